/** The audit log's tools for front ends (trl audit): the same code the daemon writes and checks the log with. */
export { AUDIT_KEY_ENV, loadAuditKey } from '../runtime/audit-key.js';
export { headPathOf, parseHead } from '../runtime/audit-head.js';
export { verifyAudit, type GivenHead, type VerifyResult } from '../runtime/audit-verify.js';
