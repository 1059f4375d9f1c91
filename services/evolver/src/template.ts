import { promptLibrary } from "@insitu/roles";

/** This role's prompt templates: `prompts/<name>.md`, rendered with `{{placeholders}}`. */
export const { loadPrompt, renderPrompt } = promptLibrary(new URL("../prompts/", import.meta.url));
