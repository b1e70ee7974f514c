import OMSServiceKit
import Shipments

await ServiceRunner.main(
    ServiceDescriptor(name: ShipmentsDefinition.name) { env in
        let parts = try await ShipmentsDefinition.makeComponents(
            database: env.database, ordersTransport: env.peers.orders.transport,
            paymentsTransport: env.peers.payments.transport, settings: env.settings, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
