/** Version of this implementation, reported by system.ping / system.info. */
export const PROTOCOL_VERSION = '0.1.0';
