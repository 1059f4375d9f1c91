import type { UsageStats } from "@insitu/contracts";
import type { BoundTool } from "@insitu/roles";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";

/** One library tool as MCP serves it. */
export interface LibraryTool {
  name: string;
  /** Content hash of the version in the current snapshot. */
  hash: string;
  manifest: ToolManifest;
  usage: UsageStats;
}

/** What the MCP server needs from the rest of insitu (the bus in production, fakes in unit tests). */
export interface LibraryPort {
  /** The current snapshot's tools (name, hash, manifest, usage). */
  snapshot(): Promise<{ snapshot: number; tools: LibraryTool[] }>;
  /** Manifest and code of one version (immutable, so cacheable by hash). */
  source(hash: string): Promise<BoundTool>;
  /** Runs one call in the sandbox under the operator's policy, exactly as the executor does. */
  exec(source: BoundTool, input: unknown, callerId: string): Promise<ToolOutcome>;
  /** Records a call in the registry's usage. */
  record(call: {
    callId: string;
    callerId: string;
    hash: string;
    outcome: ToolOutcome["status"];
    latencyMs: number;
  }): Promise<void>;
  /** Calls `onChange` whenever the library's current snapshot moves. */
  watch(onChange: () => void): Promise<{ unsubscribe(): void }>;
}

/**
 * The library as every MCP session sees it: loaded once, refreshed when the snapshot pointer
 * moves, and announcing a change only when the set of (name, version) really changed — a new
 * tool, a merge or repair (new version), a rollback or deprecation (tool gone).
 */
export class LibraryCatalog {
  private tools = new Map<string, LibraryTool>();
  private fingerprint = "";
  private snapshotNumber = 0;
  private readonly listeners = new Set<() => void>();
  private refreshing: Promise<void> | undefined;
  private again = false;
  private subscription: { unsubscribe(): void } | undefined;
  private loaded: Promise<void> | undefined;

  constructor(
    readonly port: LibraryPort,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Starts watching, then loads (so no change between the two is missed). */
  start(): Promise<void> {
    this.loaded ??= (async () => {
      this.subscription = await this.port.watch(() => {
        void this.refresh();
      });
      await this.refresh();
    })();
    // A failed start (NATS not reachable yet) is retried by the next caller.
    this.loaded.catch(() => {
      this.loaded = undefined;
    });
    return this.loaded;
  }

  /** Started and loaded at least once (a load that failed, e.g. registry not up yet, is retried). */
  async ready(): Promise<void> {
    await this.start();
    if (!this.everLoaded) await this.refresh();
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.listeners.clear();
  }

  get snapshot(): number {
    return this.snapshotNumber;
  }

  list(): LibraryTool[] {
    return [...this.tools.values()];
  }

  get(name: string): LibraryTool | undefined {
    return this.tools.get(name);
  }

  /** Subscribes to tool-set changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the snapshot (coalescing overlapping calls: one more read after the running one). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
        } while (this.again);
      } catch (error) {
        this.onError(error);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const { snapshot, tools } = await this.port.snapshot();
    const next = new Map(tools.map((tool) => [tool.name, tool]));
    const fingerprint = [...next.values()]
      .map((tool) => `${tool.name}@${tool.hash}`)
      .sort()
      .join(",");
    this.tools = next;
    this.snapshotNumber = snapshot;
    const wasLoaded = this.everLoaded;
    this.everLoaded = true;
    if (wasLoaded && fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    // The first load is what sessions list; only later changes are announced.
    if (!wasLoaded) return;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private everLoaded = false;
}
