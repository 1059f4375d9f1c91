// Types of format.js (a plain browser module, served as is; no build step).

export interface OutcomeBar {
  outcome: string;
  count: number;
  /** Of all calls; 0 when there are none. */
  fraction: number;
}

export interface TopToolRow {
  name: string;
  calls: number;
  /** null before the tool's first call or when the library listing does not have it. */
  successRate: number | null;
  description: string;
}

export interface SummaryLike {
  topTools?: { name: string; calls: number }[];
}

export interface ListingLike {
  tools?: { name: string; description?: string; usage?: { calls: number; successRate: number } }[];
}

export function formatCount(value: unknown): string;
export function formatRate(rate: unknown): string;
export function formatEgl(egl: unknown): string;
export function formatAge(time: unknown, now: number): string;
export function statusClass(status: unknown): string;
export function isTerminalStatus(status: unknown): boolean;
export function outcomeBars(callsByOutcome: Record<string, unknown> | null | undefined): OutcomeBar[];
export function topToolRows(
  summary: SummaryLike | null | undefined,
  listing: ListingLike | null | undefined,
  limit?: number,
): TopToolRow[];
export function describeEvent(event: unknown): string;
export const EVENT_KINDS: readonly string[];
export function growthData(series: unknown): {
  index: number[];
  library: (number | null)[];
  egl: (number | null)[];
};
export function evalData(state: unknown): {
  categories: { x: number[]; names: string[]; notes: string[]; accuracy: (number | null)[] };
  queries: number[];
  library: (number | null)[];
  egl: (number | null)[];
  costQuery: number[];
  cost: (number | null)[];
};
export function evalHeadline(state: unknown): string;
export interface BarrierRow {
  batch: number;
  groupsFound: number | null;
  /** "merged ← member + member" */
  merged: string[];
  /** "member + member (stage): reason" */
  rejected: string[];
  tokens: number | null;
  costUsd: number | null;
  librarySize: number | null;
}
export function batchBarrierRows(view: unknown): BarrierRow[];
export function batchHeadline(view: unknown): string;
export function formatUsd(value: unknown): string;
