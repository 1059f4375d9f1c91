/**
 * Nesting limits, counted one way everywhere: each `[` or `{` outside a string opens a level.
 *
 * Every bus message is refused past MAX_MESSAGE_DEPTH (the bus's decoder). A tool's output travels
 * inside messages (an envelope, an outcome, a step record, a report …), so the sandbox refuses an
 * output past MAX_TOOL_OUTPUT_DEPTH, leaving room for the wrappers: an output the sandbox accepts
 * never fails the bus's check on its way back.
 */
export const MAX_MESSAGE_DEPTH = 64;
/** Levels left for the messages that carry a tool output. */
export const TOOL_OUTPUT_DEPTH_HEADROOM = 16;
export const MAX_TOOL_OUTPUT_DEPTH = MAX_MESSAGE_DEPTH - TOOL_OUTPUT_DEPTH_HEADROOM;
