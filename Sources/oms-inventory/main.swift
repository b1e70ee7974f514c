import Inventory
import OMSServiceKit

await ServiceRunner.main(
    ServiceDescriptor(InventoryDefinition.service, options: InventoryOptions.self, usesRedis: true) { env, options in
        let parts = try await InventoryDefinition.makeComponents(
            options: options, database: env.database, redis: env.redis, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
