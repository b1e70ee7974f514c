import Inventory
import OMSServiceKit

await ServiceRunner.main(
    ServiceDescriptor(name: InventoryDefinition.name, usesRedis: true) { env in
        let parts = try await InventoryDefinition.makeComponents(
            settings: env.settings, database: env.database, redis: env.redis, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
