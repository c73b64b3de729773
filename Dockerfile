# An image with trl inside, for the docker tier's inner path (docs/docker-tier.md):
# a session of this image runs its commands through the trl in its container
# (`trl rpc`, started once per container) instead of one docker exec each.
# For users with a registry; without one, scripts/build-trl-image.sh builds the
# same from this machine's files. Any image can carry trl the same way: install
# node ≥ 20 and trl, and label the image with the launcher's absolute path.
#
#   npm run build && docker build -t trl:local .
FROM node:20-bookworm-slim
WORKDIR /opt/trl
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild @lydell/node-pty koffi
COPY dist/src ./dist/src
RUN mkdir -p /opt/trl/bin && printf '#!/bin/sh\nexec node /opt/trl/dist/src/cli/main.js "$@"\n' >/opt/trl/bin/trl && chmod 0755 /opt/trl/bin/trl && ln -s /opt/trl/bin/trl /usr/local/bin/trl
LABEL dev.trl.inner=/opt/trl/bin/trl
WORKDIR /
CMD ["/bin/sh"]
