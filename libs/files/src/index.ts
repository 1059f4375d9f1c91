export {
  attachSources,
  checkAttachments,
  decodeDataUri,
  readAttachmentSources,
  storeAttachments,
} from "./attachments.js";
export type { AttachmentInput, CheckedAttachment } from "./attachments.js";
export { FileErrorCode, FileLimits, attachmentError, workspaceRetentionMs } from "./limits.js";
export {
  NAME_MAX_CHARS,
  PATH_MAX_CHARS,
  PATH_MAX_DEPTH,
  fileNameProblem,
  workspacePathProblem,
} from "./names.js";
export { MediaType, declaredTypeAgrees, isImageType, isTextType, sniffMediaType } from "./sniff.js";
export {
  WORKSPACE_INDEX_BUCKET,
  WORKSPACE_OBJECTS_BUCKET,
  WorkspaceStore,
  digestOf,
} from "./store.js";
export type { NewWorkspaceFile, WorkspaceEntry, WorkspaceIO } from "./store.js";
export { copyWorkspaceIn, copyWorkspaceOut } from "./sync.js";
export type { CopyOutLimits } from "./sync.js";
export { attachmentList, formatSize } from "./describe.js";
