import OMSServiceKit
import Shipments

await ServiceRunner.main(
    ServiceDescriptor(ShipmentsDefinition.service, options: ShipmentsOptions.self) { env, options in
        let parts = ShipmentsDefinition.makeComponents(
            database: env.database, ordersTransport: env.peers.orders.transport,
            paymentsTransport: env.peers.payments.transport, options: options, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
