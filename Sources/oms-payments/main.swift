import OMSServiceKit
import Payments

await ServiceRunner.main(
    ServiceDescriptor(name: PaymentsDefinition.name) { env in
        let parts = try await PaymentsDefinition.makeComponents(
            settings: env.settings, database: env.database, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
