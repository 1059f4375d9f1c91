import { runService } from "@insitu/runtime";
import { gatewayService } from "./service.js";

await runService(gatewayService);
