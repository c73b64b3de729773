/**
 * The docker tier's files helper: a POSIX sh program (busybox or Debian
 * images alike: sh, stat, readlink, head, tail, base64, mv -T, ln -T,
 * sha256sum, xargs -0, tr) run by `docker exec` as the session's user, so
 * it works on an engine that shares no filesystem with the daemon, with the
 * container's own mounts (the workspace guards) and permissions in force.
 *
 * The jail without openat: a path is walked one component at a time with
 * `cd -P` (the shell then holds the directory itself, whatever its name
 * becomes) and, after every step, the kernel's own name of where it landed
 * (`$PWD` after `cd -P` is getcwd) must be inside the workspace — a symlink
 * swapped in at any moment can only land somewhere that is then refused. A
 * symlink met on the way is read and resolved the same way (absolute: only
 * into the workspace). A file is opened by a single name in that pinned
 * directory and checked after the open: still no symlink there, a regular
 * file, and the very inode the descriptor holds (`-ef /proc/self/fd/3`).
 * (`command exec` so that a redirection that fails is an error to handle,
 * not the end of the shell.) Writes go to a new temporary file (noclobber,
 * then checked the same way)
 * renamed over the target in the pinned directory (`mv -T`, no follow), or
 * hard-linked to it when nothing may be replaced. Recursive removal enters
 * each directory the same way and never follows a link.
 *
 * Answers are fields ending in NUL: `v…` a value, `x…` a failure (then the
 * place and the reason as values), `e` the end. Modes:
 *   agent  requests on stdin, one per line, arguments separated by \x1f:
 *            S rel follow | T rel | L rel | R rel follow offset length whole
 *            B dir max name… (files of one directory, opened and checked as
 *              above, in batches through `tar -h` of their /proc/self/fd links)
 *            K rel parents mode | D rel recursive | V from to overwrite parents
 *   write  rel overwrite mode parents sha256 tag size — the content on stdin
 *   get    rel offset length — the header on stderr, the bytes on stdout
 *
 *   sh -c SCRIPT trl-files WORKSPACE MODE ARGS…
 */
/** Written with %{ for ${ (a raw template cannot hold ${ unescaped). */
export const FILES_SCRIPT = String.raw`
ws=$1 mode=$2
shift 2
us=$(printf '\037')
nl='
'
if [ "$mode" = get ]; then exec 9>&2; else exec 9>&1; fi
fail() {
  # Clean up first: the daemon answers its client as soon as it reads this.
  [ -z "$cleanup" ] || eval "$cleanup"
  w=%{PWD#"$ws"}; w=%{w#/}
  [ -n "$3" ] && w=%{w:+$w/}$3
  printf 'x%s\0v%s\0v%s\0e\0' "$1" "$w" "$2" >&9
  exit 3
}
inside() { case $1 in "$ws"|"$ws"/*) return 0 ;; esac; return 1; }
here() { inside "$PWD" || fail PATH_OUTSIDE_WORKSPACE "a symlink on the way leads to $PWD, outside the workspace"; }
top() { cd -P -- "$ws" 2>/dev/null && [ "$PWD" = "$ws" ] || fail PATH_NOT_FOUND 'the workspace is not there'; }
resolve() {
  _q=$1 _follow=$2 _missok=$3 _mk=$4 _links=0 name= exists=1
  top
  while [ -n "$_q" ]; do
    case $_q in
      */*) _c=%{_q%%/*}; _q=%{_q#*/} ;;
      *) _c=$_q; _q= ;;
    esac
    case $_c in
      ''|.) continue ;;
      ..)
        [ "$PWD" = "$ws" ] && fail PATH_OUTSIDE_WORKSPACE 'a symlink on the way leads above the workspace'
        cd -P .. || fail PATH_NOT_FOUND ''
        here
        continue ;;
    esac
    if [ -L "$_c" ]; then
      if [ -z "$_q" ] && [ "$_follow" = 0 ]; then name=$_c; return; fi
      _links=$((_links + 1))
      [ $_links -gt 40 ] && fail INVALID_PARAMS 'too many levels of symbolic links' "$_c"
      _t=$(readlink -- "./$_c") || fail PATH_NOT_FOUND '' "$_c"
      case $_t in
        /*) inside "$_t" || fail PATH_OUTSIDE_WORKSPACE "a symlink to $_t, outside the workspace" "$_c"
            top; _t=%{_t#"$ws"}; _t=%{_t#/} ;;
      esac
      _q=$_t%{_q:+/$_q}
      continue
    fi
    if [ -z "$_q" ]; then
      name=$_c
      if [ ! -e "$_c" ]; then exists=0; [ "$_missok" = 1 ] || fail PATH_NOT_FOUND '' "$_c"; fi
      return
    fi
    [ -e "$_c" ] || [ "$_mk" != 1 ] || mkdir -- "./$_c" 2>/dev/null
    [ -e "$_c" ] || fail PATH_NOT_FOUND '' "$_c"
    [ -d "$_c" ] || fail NOT_A_DIRECTORY '' "$_c"
    cd -P -- "./$_c" 2>/dev/null || fail PERMISSION_DENIED 'cannot enter it' "$_c"
    here
  done
  name=
}
openfile() {
  [ -n "$name" ] || fail NOT_A_FILE 'a directory'
  [ -f "$name" ] && [ ! -L "$name" ] || fail NOT_A_FILE 'not a regular file' "$name"
  command exec 3< "./$name" 2>/dev/null || fail PERMISSION_DENIED "the session's user cannot read it" "$name"
  [ ! -L "$name" ] && [ -f /proc/self/fd/3 ] && [ "./$name" -ef /proc/self/fd/3 ] || fail NOT_A_FILE 'it changed while being opened; try again' "$name"
}
meta() { stat -c '%f %s %Y' -- "$1" 2>/dev/null; }
list() {
  printf 'vOK\0'
  for f in * .*; do
    case $f in .|..|*"$nl"*|*"$us"*) continue ;; esac
    [ -e "$f" ] || [ -L "$f" ] || continue
    printf './%s\0' "$f"
  done | xargs -0 -r stat -c 'v%f %s %Y %n' -- 2>/dev/null | tr '\n' '\0'
  for f in * .*; do
    case $f in .|..|*"$nl"*|*"$us"*) continue ;; esac
    [ -L "$f" ] && printf 'l%s\0v%s\0' "$f" "$(readlink -- "./$f")"
  done
  for f in * .*; do
    case $f in *"$nl"*|*"$us"*) { [ -e "$f" ] || [ -L "$f" ]; } && printf 'n%s\0' "$f" ;; esac
  done
  printf 'e\0'
}
rmtree() {
  local d p
  d=$1 p=$PWD
  cd -P -- "./$d" 2>/dev/null || fail PERMISSION_DENIED 'cannot enter it' "$d"
  [ "$PWD" = "$p/$d" ] || fail INVALID_PARAMS 'it changed while being removed; try again' "$d"
  set --
  for f in * .*; do
    case $f in .|..) continue ;; esac
    [ -e "$f" ] || [ -L "$f" ] || continue
    if [ -d "$f" ] && [ ! -L "$f" ]; then rmtree "$f"; else set -- "$@" "./$f"; fi
  done
  if [ $# -gt 0 ]; then rm -f -- "$@" || fail PERMISSION_DENIED 'cannot remove what it holds' "$d"; removed=$((removed + $#)); fi
  cd -P .. && [ "$PWD" = "$p" ] || fail INVALID_PARAMS 'it moved while being removed; try again' "$d"
  rmdir -- "./$d" 2>/dev/null || fail PERMISSION_DENIED 'cannot remove it' "$d"
  removed=$((removed + 1))
}
octal() { printf '%o' $((0$1 & 0777)); }
agent() {
  # Descriptors for batches of files: 3-8 (9 carries the answers; dash takes one digit, and busybox
  # ash keeps its own saved descriptors from 10 up).
  lo=3 hi=8
  while IFS=$us read -r op A B C D E; do
    (
      case $op in
        S) resolve "$A" "$B" 0 0
           if [ -z "$name" ]; then set -- .; else set -- "./$name"; fi
           m=$(meta "$1") || fail PATH_NOT_FOUND '' "$name"
           printf 'vOK\0v%s\0' "$m"
           [ -L "$1" ] && printf 'v%s\0' "$(readlink -- "$1")"
           printf 'e\0' ;;
        T) resolve "$A" 1 0 0
           if [ -z "$name" ]; then set -- .; r=; else set -- "./$name"; r=$name; fi
           m=$(meta "$1") || fail PATH_NOT_FOUND '' "$name"
           w=%{PWD#"$ws"}; w=%{w#/}
           printf 'vOK\0v%s\0v%s\0e\0' "%{w:+$w/}$r" "$m" ;;
        L) resolve "$A" 0 0 0
           if [ -n "$name" ]; then
             { [ -d "$name" ] && [ ! -L "$name" ] && cd -P -- "./$name" 2>/dev/null; } || { printf 'vNODIR\0e\0'; exit 0; }
           fi
           [ "$PWD" = "$ws%{A:+/$A}" ] || { printf 'vNODIR\0e\0'; exit 0; }
           list ;;
        R) resolve "$A" "$B" 0 0
           openfile
           m=$(stat -L -c '%f %s %Y' /proc/self/fd/3) || fail PATH_NOT_FOUND '' "$name"
           size=%{m#* }; size=%{size%% *}
           if [ "$size" -le "$E" ]; then
             printf 'vOK\0v%s\0v1\0v' "$m"; head -c $((E + 1)) <&3 | base64
           else
             printf 'vOK\0v%s\0v0\0v' "$m"; tail -c +$((C + 1)) <&3 | head -c "$D" | base64
           fi
           printf '\0e\0' ;;
        B) resolve "$A" 0 0 0
           if [ -n "$name" ]; then
             { [ -d "$name" ] && [ ! -L "$name" ] && cd -P -- "./$name" 2>/dev/null; } || { printf 'vNODIR\0e\0'; exit 0; }
           fi
           [ "$PWD" = "$ws%{A:+/$A}" ] || { printf 'vNODIR\0e\0'; exit 0; }
           set -f; IFS=$us; set -- $C$us$D$us$E; unset IFS; set +f
           printf 'vOK\0'
           fd=$lo fds=
           for n in "$@"; do
             [ -n "$n" ] || continue
             if [ -f "$n" ] && [ ! -L "$n" ] && eval "command exec $fd<\"./\$n\"" 2>/dev/null &&
                [ ! -L "$n" ] && [ "./$n" -ef /proc/self/fd/$fd ]; then
               printf 'o%s\0v%s\0' "$fd" "$n"; fds="$fds $fd"; fd=$((fd + 1))
             else printf 's%s\0' "$n"; fi
             if [ $fd -gt $hi ]; then printf 't'; tar -chf - -C /proc/self/fd $fds 2>/dev/null | base64; printf '\0'; fd=$lo fds=; fi
           done
           if [ -n "$fds" ]; then printf 't'; tar -chf - -C /proc/self/fd $fds 2>/dev/null | base64; printf '\0'; fi
           printf 'e\0' ;;
        K) resolve "$A" 1 1 "$B"
           if [ "$exists" = 1 ]; then
             { [ -z "$name" ] || [ -d "$name" ]; } && [ "$B" = 1 ] && { printf 'vOK\0v0\0e\0'; exit 0; }
             fail PATH_EXISTS '' "$name"
           fi
           mkdir -m "$(octal "$C")" -- "./$name" 2>/dev/null || { [ -d "$name" ] && [ "$B" = 1 ] && { printf 'vOK\0v0\0e\0'; exit 0; }; fail PERMISSION_DENIED 'cannot create it' "$name"; }
           printf 'vOK\0v1\0e\0' ;;
        D) resolve "$A" 0 0 0
           [ -n "$name" ] || fail INVALID_PARAMS 'the workspace itself cannot be removed'
           removed=0
           if [ -d "$name" ] && [ ! -L "$name" ]; then
             if [ "$B" = 1 ]; then rmtree "$name"
             else rmdir -- "./$name" 2>/dev/null || fail INVALID_PARAMS 'a directory that is not empty: pass recursive: true' "$name"; removed=1
             fi
           else rm -f -- "./$name" || fail PERMISSION_DENIED 'cannot remove it' "$name"; removed=1
           fi
           printf 'vOK\0v%s\0e\0' "$removed" ;;
        V) resolve "$B" 0 1 "$D"
           [ -n "$name" ] || fail PATH_EXISTS 'the workspace itself'
           [ "$exists" = 1 ] && [ "$C" != 1 ] && fail PATH_EXISTS '' "$name"
           to=$name dest=$PWD/$name
           command exec 5< . 2>/dev/null || fail PERMISSION_DENIED 'cannot open the directory' ''
           resolve "$A" 0 0 0
           [ -n "$name" ] || fail INVALID_PARAMS 'the workspace itself cannot be moved'
           case $dest/ in "$PWD/$name/"*) fail INVALID_PARAMS 'a directory cannot move into itself' "$name" ;; esac
           if [ "$C" = 1 ] || { [ -d "$name" ] && [ ! -L "$name" ]; }; then
             [ "$C" = 1 ] || { [ ! -e "/proc/self/fd/5/$to" ] && [ ! -L "/proc/self/fd/5/$to" ]; } || fail PATH_EXISTS '' "$to"
             mv -f -T -- "./$name" "/proc/self/fd/5/$to" 2>/dev/null || fail PERMISSION_DENIED 'cannot move it there (over a directory, or a path the tier protects?)' "$name"
           else
             if ! ln -T -- "./$name" "/proc/self/fd/5/$to" 2>/dev/null; then
               { [ -e "/proc/self/fd/5/$to" ] || [ -L "/proc/self/fd/5/$to" ]; } && fail PATH_EXISTS 'the destination' ''
               fail PERMISSION_DENIED 'it cannot be moved (a path the tier protects?)' "$name"
             fi
             rm -f -- "./$name" 2>/dev/null || fail PERMISSION_DENIED 'it cannot be moved (a path the tier protects?)' "$name"
           fi
           printf 'vOK\0e\0' ;;
        *) fail INVALID_PARAMS "unknown request $op" ;;
      esac
    ) </dev/null
    s=$?
    case $s in 0|3) ;; *) printf 'xIO_ERROR\0v\0vthe files helper failed (status %s)\0e\0' "$s" ;; esac
  done
}
write() {
  resolve "$1" 1 1 "$4"
  [ -n "$name" ] || fail NOT_A_FILE 'the workspace itself is a directory'
  m=$3
  if [ "$exists" = 1 ]; then
    [ -d "$name" ] && fail NOT_A_FILE 'a directory' "$name"
    [ -f "$name" ] || fail NOT_A_FILE 'not a regular file' "$name"
    [ "$2" = 1 ] || fail PATH_EXISTS '' "$name"
    m=$(stat -c %a -- "./$name") || fail PATH_NOT_FOUND '' "$name"
  fi
  m=$(octal "$m")
  t=.trl-write-$6
  cleanup='rm -f -- "./$t"'
  set -C
  command exec 4> "./$t" 2>/dev/null || fail PERMISSION_DENIED "the session's user cannot create a file here" "$name"
  set +C
  [ ! -L "$t" ] && [ -f "$t" ] && [ "./$t" -ef /proc/self/fd/4 ] || fail PERMISSION_DENIED 'the temporary file changed; try again' "$name"
  cat >&4 || fail FILE_TOO_LARGE 'writing it failed (no space left?)' "$name"
  [ -z "$7" ] || [ "$(stat -L -c %s /proc/self/fd/4)" = "$7" ] || fail INVALID_PARAMS 'the content ended early; nothing was written' "$name"
  chmod "$m" /proc/self/fd/4 2>/dev/null || fail PERMISSION_DENIED 'cannot set its mode' "$name"
  exec 4>&-
  if [ -n "$5" ]; then
    [ -f "$name" ] && [ ! -L "$name" ] || fail FILE_CHANGED 'it was removed or replaced' "$name"
    h=$(sha256sum < "./$name") || fail IO_ERROR 'sha256sum failed' "$name"
    [ "%{h%% *}" = "$5" ] || fail FILE_CHANGED 'its content is not what expect_hash says' "$name"
  fi
  if [ "$2" = 1 ]; then
    mv -f -T -- "./$t" "./$name" 2>/dev/null || fail PERMISSION_DENIED 'it cannot be replaced (a path the tier protects?)' "$name"
  elif ln -T -- "./$t" "./$name" 2>/dev/null; then
    rm -f -- "./$t"
  else
    { [ -e "$name" ] || [ -L "$name" ]; } && fail PATH_EXISTS '' "$name"
    mv -f -T -- "./$t" "./$name" 2>/dev/null || fail PERMISSION_DENIED 'cannot create it' "$name"
  fi
  printf 'vOK\0v%s\0v%s\0e\0' "$((1 - exists))" "$m"
}
get() {
  resolve "$1" 1 0 0
  openfile
  m=$(stat -L -c '%f %s %Y' /proc/self/fd/3) || fail PATH_NOT_FOUND '' "$name"
  printf 'vOK\0v%s\0e\0' "$m" >&9
  if [ -z "$3" ]; then tail -c +$(($2 + 1)) <&3; else tail -c +$(($2 + 1)) <&3 | head -c "$3"; fi
}
case $mode in
  agent) agent ;;
  write) write "$@" ;;
  get) get "$@" ;;
  *) fail INVALID_PARAMS "unknown mode $mode" ;;
esac
`.replaceAll('%{', '${');
