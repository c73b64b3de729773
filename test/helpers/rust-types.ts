/**
 * Decode JSON the way serde_json decodes it into the structs of a Rust file:
 * claw-core's client crate (`crates/types.rs` of its peer directory) types
 * `uptime_s` as u64 and `exit_code` as i32, so a decimal or a null there is a
 * decoding error for that client. This reads the struct definitions from the
 * file itself (the subset the crate uses: pub fields of String, bool,
 * integers, Option, Vec, HashMap, serde_json::Value and other structs of the
 * file; `#[serde(default)]`), so the check follows the crate, not a copy.
 */

export interface RustField {
  name: string;
  type: RustType;
  /** `#[serde(default…)]` or an Option: may be absent. */
  optional: boolean;
}

export type RustType =
  | { kind: 'string' | 'bool' | 'value' }
  | { kind: 'int'; name: string; min: bigint; max: bigint }
  | { kind: 'float' }
  | { kind: 'option' | 'vec'; of: RustType }
  | { kind: 'map'; of: RustType }
  | { kind: 'struct'; name: string };

export type RustStructs = Map<string, RustField[]>;

const INTS: Record<string, [bigint, bigint]> = {
  u8: [0n, 255n],
  u16: [0n, 65535n],
  u32: [0n, 2n ** 32n - 1n],
  u64: [0n, 2n ** 64n - 1n],
  usize: [0n, 2n ** 64n - 1n],
  i8: [-128n, 127n],
  i16: [-32768n, 32767n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
};

export function parseType(text: string): RustType {
  const t = text.trim().replace(/^std::collections::/, '');
  const generic = /^([A-Za-z_:]+)<(.*)>$/.exec(t);
  if (generic) {
    const [, outer, inner] = generic as unknown as [string, string, string];
    if (outer === 'Option') return { kind: 'option', of: parseType(inner) };
    if (outer === 'Vec') return { kind: 'vec', of: parseType(inner) };
    if (outer === 'HashMap' || outer === 'BTreeMap') {
      const comma = inner.indexOf(',');
      return { kind: 'map', of: parseType(inner.slice(comma + 1)) };
    }
    throw new Error(`unsupported Rust type ${t}`);
  }
  if (t === 'String') return { kind: 'string' };
  if (t === 'bool') return { kind: 'bool' };
  if (t === 'f32' || t === 'f64') return { kind: 'float' };
  if (t === 'serde_json::Value') return { kind: 'value' };
  const range = INTS[t];
  if (range) return { kind: 'int', name: t, min: range[0], max: range[1] };
  if (/^[A-Z][A-Za-z0-9]*$/.test(t)) return { kind: 'struct', name: t };
  throw new Error(`unsupported Rust type ${t}`);
}

/** Every `pub struct Name { … }` of the file with its fields. */
export function parseStructs(source: string): RustStructs {
  const structs: RustStructs = new Map();
  const re = /pub struct (\w+)\s*\{([^}]*)\}/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const fields: RustField[] = [];
    let serdeDefault = false;
    for (const raw of m[2]!.split('\n')) {
      const line = raw.trim();
      if (line.startsWith('#[serde(')) {
        if (/\bdefault\b/.test(line)) serdeDefault = true;
        continue;
      }
      const f = /^pub (\w+):\s*(.+?),?$/.exec(line);
      if (!f) continue;
      const type = parseType(f[2]!);
      fields.push({ name: f[1]!, type, optional: serdeDefault || type.kind === 'option' });
      serdeDefault = false;
    }
    structs.set(m[1]!, fields);
  }
  return structs;
}

/** What serde_json would refuse when decoding `value` as `type` (empty: it decodes). */
export function decodeProblems(structs: RustStructs, type: RustType | string, value: unknown, at = '$'): string[] {
  const t = typeof type === 'string' ? ({ kind: 'struct', name: type } as RustType) : type;
  const bad = (expected: string) => [`${at}: expected ${expected}, got ${JSON.stringify(value)}`];
  switch (t.kind) {
    case 'value':
      return [];
    case 'string':
      return typeof value === 'string' ? [] : bad('a string');
    case 'bool':
      return typeof value === 'boolean' ? [] : bad('a bool');
    case 'float':
      return typeof value === 'number' ? [] : bad('a number');
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad(`an integer (${t.name})`);
      return BigInt(value) >= t.min && BigInt(value) <= t.max ? [] : bad(`a ${t.name} in range`);
    case 'option':
      return value === null ? [] : decodeProblems(structs, t.of, value, at);
    case 'vec':
      if (!Array.isArray(value)) return bad('an array');
      return value.flatMap((v, i) => decodeProblems(structs, t.of, v, `${at}[${i}]`));
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('an object');
      return Object.entries(value).flatMap(([k, v]) => decodeProblems(structs, t.of, v, `${at}.${k}`));
    case 'struct': {
      const fields = structs.get(t.name);
      if (!fields) throw new Error(`no struct ${t.name} in the Rust file`);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`an object (${t.name})`);
      const obj = value as Record<string, unknown>;
      return fields.flatMap((f) => {
        if (!(f.name in obj)) return f.optional ? [] : [`${at}.${f.name}: missing field of ${t.name}`];
        return decodeProblems(structs, f.type, obj[f.name], `${at}.${f.name}`);
      });
    }
  }
}
