export { BaseConfigSchema, runService } from "./run-service.js";
export type {
  BaseConfig,
  RunOptions,
  RunningService,
  ServiceContext,
  ServiceSpec,
  StartedService,
} from "./run-service.js";
