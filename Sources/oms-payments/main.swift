import OMSServiceKit
import Payments

await ServiceRunner.main(
    ServiceDescriptor(PaymentsDefinition.service, options: PaymentsOptions.self) { env, options in
        let parts = await PaymentsDefinition.makeComponents(
            options: options, database: env.database, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
