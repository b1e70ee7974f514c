import Checkout
import OMSServiceKit

await ServiceRunner.main(
    ServiceDescriptor(name: CheckoutDefinition.name) { env in
        let parts = try await CheckoutDefinition.makeComponents(
            database: env.database, inventory: env.peers.inventory.transport, orders: env.peers.orders.transport,
            payments: env.peers.payments.transport, settings: env.settings, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
