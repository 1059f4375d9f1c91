// biome-ignore-all lint/suspicious/noConfusingVoidType: copied signatures; `(_: void) => void` is what lets resolve be a timer callback
// biome-ignore-all lint/suspicious/noExplicitAny: copied signatures; Deno's check uses these exact types
// The timers `deno check` (2.9) takes from the @types/node it bundles, beside Deno's own
// declarations: `deno types` does not print them. Signatures as in @types/node's timers.d.ts;
// written here so the resident checker (docs/adr/0087) need not load all of @types/node, which
// tripled its start-up and doubled each check. Any other name the checker does not know is
// confirmed with `deno check` (check.ts), so Node's other globals (process, Buffer) still agree.
declare namespace NodeJS {
  interface RefCounted {
    ref(): this;
    unref(): this;
  }
  interface Timer extends RefCounted {
    hasRef(): boolean;
    refresh(): this;
    [Symbol.toPrimitive](): number;
  }
  interface Timeout extends Timer {
    close(): this;
    [Symbol.dispose](): void;
  }
  interface Immediate extends RefCounted {
    hasRef(): boolean;
    [Symbol.dispose](): void;
  }
}
declare function setTimeout<TArgs extends any[]>(
  callback: (...args: TArgs) => void,
  delay?: number,
  ...args: TArgs
): NodeJS.Timeout;
declare function setTimeout(callback: (_: void) => void, delay?: number): NodeJS.Timeout;
declare function setInterval<TArgs extends any[]>(
  callback: (...args: TArgs) => void,
  delay?: number,
  ...args: TArgs
): NodeJS.Timeout;
declare function setInterval(callback: (_: void) => void, delay?: number): NodeJS.Timeout;
declare function setImmediate<TArgs extends any[]>(
  callback: (...args: TArgs) => void,
  ...args: TArgs
): NodeJS.Immediate;
declare function setImmediate(callback: (_: void) => void): NodeJS.Immediate;
declare function clearTimeout(timeout: NodeJS.Timeout | string | number | undefined): void;
declare function clearInterval(timeout: NodeJS.Timeout | string | number | undefined): void;
declare function clearImmediate(immediate: NodeJS.Immediate | undefined): void;
