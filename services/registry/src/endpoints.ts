import { type EndpointHandler, endpoint } from "@insitu/bus";
import {
  RegistryAbsorb,
  RegistryBindingGet,
  RegistryCatalog,
  RegistryDiff,
  RegistryFinishTask,
  RegistryGet,
  RegistryHistory,
  RegistryLibraryExport,
  RegistryLibraryImport,
  RegistryList,
  RegistryCodeGet,
  RegistryRecordUsage,
  RegistryRegister,
  RegistryReviewDecide,
  RegistryReviewList,
  RegistryRollback,
  RegistrySearch,
  RegistrySeries,
  RegistrySnapshots,
  RegistryStats,
} from "@insitu/contracts";
import { bindingGet, codeGet } from "./bindings.js";
import { exportLibraryFiles, importLibrary, sentSource } from "./export.js";
import type { Registry } from "./registry.js";

/** Every registry endpoint bound to its operation. */
export function registryEndpoints(registry: Registry): EndpointHandler[] {
  return [
    endpoint(RegistryRegister, (data) => registry.register(data)),
    endpoint(RegistryAbsorb, (data) => registry.absorb(data)),
    endpoint(RegistryGet, (data) => registry.get(data)),
    endpoint(RegistryBindingGet, (data) => bindingGet(registry, data)),
    endpoint(RegistryCodeGet, (data) => codeGet(registry, data)),
    endpoint(RegistryList, (data) => registry.list(data)),
    endpoint(RegistryHistory, (data) => registry.history(data)),
    endpoint(RegistrySnapshots, (data) => registry.snapshots(data)),
    endpoint(RegistryDiff, (data) => registry.diff(data)),
    endpoint(RegistryRollback, (data) => registry.rollback(data)),
    endpoint(RegistrySearch, (data) => registry.search(data)),
    endpoint(RegistryRecordUsage, (data) => registry.recordUsage(data)),
    endpoint(RegistryStats, (data) => registry.stats(data)),
    endpoint(RegistryFinishTask, (data) => registry.finishTask(data)),
    endpoint(RegistryCatalog, (data) => registry.catalog(data)),
    endpoint(RegistrySeries, (data) => registry.series(data)),
    endpoint(RegistryReviewList, (data) => registry.reviewList(data)),
    endpoint(RegistryReviewDecide, (data) => registry.reviewDecide(data)),
    endpoint(RegistryLibraryExport, () => exportLibraryFiles(registry)),
    endpoint(RegistryLibraryImport, ({ reason, replace, requireUnchanged, ...folder }) =>
      importLibrary(registry, sentSource(folder), {
        ...(reason === undefined ? {} : { reason }),
        ...(replace === undefined ? {} : { replace }),
        ...(requireUnchanged === undefined ? {} : { requireUnchanged }),
      }),
    ),
  ];
}
