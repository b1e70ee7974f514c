import OMSServiceKit
import Orders

await ServiceRunner.main(
    ServiceDescriptor(OrdersDefinition.service, options: OrdersOptions.self) { env, options in
        let receiver = OutboxClientReceiver(payments: env.peers.payments, inventory: env.peers.inventory)
        let parts = try await OrdersDefinition.makeComponents(
            database: env.database, options: options, receiver: receiver,
            checkouts: CheckoutClientLookup(client: env.peers.checkout), logger: env.logger)
        return ServiceComponents(services: parts.services, jobs: parts.jobs)
    })
