import OMSServiceKit
import Orders

await ServiceRunner.main(
    ServiceDescriptor(name: OrdersDefinition.name) { env in
        let receiver = OutboxClientReceiver(payments: env.peers.payments, inventory: env.peers.inventory)
        let parts = try await OrdersDefinition.makeComponents(
            database: env.database, settings: env.settings, receiver: receiver, logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
