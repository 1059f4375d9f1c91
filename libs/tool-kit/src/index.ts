export { canonicalJson } from "./canonical-json.js";
export {
  SchemaLimits,
  checkPattern,
  checkUntrustedSchema,
  compile as compileSchema,
  schemaHash,
  validateAgainstSchema,
} from "./json-schema.js";
export type { JsonSchema, SchemaIssue } from "./json-schema.js";
export {
  DefaultLimits,
  FilesPermissionSchema,
  InputSchemaSchema,
  LimitCeilings,
  NetworkPermissionSchema,
  OutputSchemaSchema,
  SecretNameSchema,
  TOOL_NAME_PATTERN,
  ToolLimitsSchema,
  ToolManifestSchema,
  ToolNameSchema,
  ToolPermissionsSchema,
  internalNetworkDeclarations,
  parseManifest,
} from "./manifest.js";
export type { ToolLimits, ToolManifest, ToolManifestInput, ToolPermissions } from "./manifest.js";
export {
  OutcomeStatus,
  OutcomeStatusSchema,
  PermissionRefSchema,
  SchemaIssueSchema,
  ToolOutcomeSchema,
  WorkspaceFileRefSchema,
  WorkspaceReportSchema,
  parseRecordedOutcome,
} from "./outcome.js";
export type { ToolOutcome, ToolOutcomeOf, WorkspaceReport } from "./outcome.js";
export {
  InternalHostReason,
  PermissionKind,
  SECRET_NAME_PATTERN,
  classifyHost,
  formatNetworkTarget,
  formatPermission,
  parseNetworkTarget,
} from "./permissions.js";
export type { NetworkTarget, PermissionRef } from "./permissions.js";
export {
  CheckOp,
  ToolCheckSchema,
  ToolExpectationSchema,
  ToolTestCaseSchema,
  ToolTestsSchema,
  deepEqual,
  judgeTestCase,
  resolvePath,
} from "./tool-tests.js";
export type { ToolCheck, ToolExpectation, ToolTestCase, ToolTestResult } from "./tool-tests.js";
export { TOOL_HASH_PATTERN, computeCodeHash, computeToolHash, toToolVersion } from "./tool-version.js";
export type { ToolSource, ToolVersion } from "./tool-version.js";
export {
  ApprovalDecision,
  ApprovalDecisionSchema,
  ApprovalPolicySchema,
  ApprovalRuleSchema,
  DEFAULT_APPROVAL_DEFAULTS,
  DEFAULT_REVIEW_WAIT_MS,
  ReviewWaitMode,
  ReviewWaitModeSchema,
  approvedSecrets,
  decidePermission,
  defaultApprovalPolicy,
  evaluateApproval,
  parseApprovalPolicy,
  requestedPermissions,
  ruleMatches,
} from "./approval-policy.js";
export type {
  ApprovalEvaluation,
  ApprovalPolicy,
  ApprovalPolicyInput,
  ApprovalRule,
  PermissionDecision,
  ReviewState,
} from "./approval-policy.js";
