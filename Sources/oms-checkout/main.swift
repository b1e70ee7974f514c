import Checkout
import OMSServiceKit

await ServiceRunner.main(
    ServiceDescriptor(CheckoutDefinition.service, options: CheckoutOptions.self) { env, options in
        let parts = try await CheckoutDefinition.makeComponents(
            database: env.database, inventory: env.peers.inventory.transport, orders: env.peers.orders.transport,
            payments: env.peers.payments.transport, options: options, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
