import OMSRPCCore

// The coordinator talks to inventory, orders and payments only through these ports: plain
// domain types, no generated protobuf types. Adapters in `Adapters/` map them onto the typed
// RPC clients; tests use in-memory fakes with failure injection.

/// An amount of money: integer minor units and an ISO 4217 code.
public struct CheckoutMoney: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Minor units (cents for USD).
    public var amountMinor: Int64
    /// ISO 4217 alphabetic code, upper case.
    public var currency: String

    /// Creates an amount.
    /// - Parameters:
    ///   - amountMinor: minor units.
    ///   - currency: ISO 4217 code.
    public init(amountMinor: Int64, currency: String) {
        self.amountMinor = amountMinor
        self.currency = currency
    }

    public var description: String { "\(amountMinor) \(currency)" }
}

/// How a port call failed. Every port method throws only `PortError` for failures of the remote
/// step; anything else (a crash, cancellation, a database failure) stops the saga where it is and
/// leaves the checkout to recovery.
public struct PortError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The three kinds of failure the saga distinguishes.
    public enum Kind: String, Sendable, Hashable {
        /// The step did not happen and will not (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, …).
        case definite
        /// The request was not sent (or was refused before any effect): retrying is safe.
        case unavailable
        /// The request may have had its effect (timeout or connection lost after sending):
        /// must be resolved by asking the service, never guessed.
        case unknownOutcome
    }

    /// The kind of failure.
    public var kind: Kind
    /// The status code the service (or transport) answered.
    public var code: RPCStatusCode
    /// Detail for logs and rejections.
    public var message: String

    /// Creates a port error.
    /// - Parameters:
    ///   - kind: the kind.
    ///   - code: the status code.
    ///   - message: detail.
    public init(_ kind: Kind, code: RPCStatusCode, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// A definite failure: the step did not happen.
    public static func definite(_ code: RPCStatusCode, _ message: String) -> PortError {
        PortError(.definite, code: code, message)
    }

    /// Not sent; safe to retry.
    public static func unavailable(_ message: String) -> PortError {
        PortError(.unavailable, code: .unavailable, message)
    }

    /// Sent, outcome unknown.
    public static func unknownOutcome(_ code: RPCStatusCode = .deadlineExceeded, _ message: String) -> PortError {
        PortError(.unknownOutcome, code: code, message)
    }

    public var description: String { "\(kind) \(code): \(message)" }
}

// MARK: Inventory

/// A catalog entry: the only source of prices.
public struct CatalogItem: Sendable, Hashable, Codable {
    /// The SKU.
    public var sku: String
    /// Product name (copied onto the order line).
    public var name: String
    /// Unit price.
    public var unitPrice: CheckoutMoney
    /// Whether the product may be sold.
    public var active: Bool

    /// Creates a catalog entry.
    public init(sku: String, name: String, unitPrice: CheckoutMoney, active: Bool = true) {
        self.sku = sku
        self.name = name
        self.unitPrice = unitPrice
        self.active = active
    }
}

/// One line to reserve.
public struct StockRequest: Sendable, Hashable, Codable {
    /// The SKU.
    public var sku: String
    /// Units, 1…1,000,000.
    public var quantity: Int64

    /// Creates a line.
    public init(sku: String, quantity: Int64) {
        self.sku = sku
        self.quantity = quantity
    }
}

/// The result of a reservation: all lines or none.
public enum ReserveOutcome: Sendable, Hashable {
    /// Every line is held under the reservation id.
    case reserved
    /// Nothing is held; these SKUs were short.
    case outOfStock(skus: [String])
}

/// Catalog and stock reservations (`oms.inventory.v1.Inventory`).
public protocol InventoryPort: Sendable {
    /// Looks prices up. SKUs the catalog does not know are absent from the answer.
    /// - Parameters:
    ///   - skus: distinct SKUs.
    ///   - deadline: when the answer is no longer wanted.
    /// - Throws: `PortError`.
    func prices(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: CatalogItem]

    /// Units available per SKU as the inventory gate sees them now: a hint that holds nothing (only
    /// `reserve` decides). SKUs without a figure are absent.
    /// - Parameters:
    ///   - skus: distinct SKUs.
    ///   - deadline: when the answer is no longer wanted.
    /// - Throws: `PortError`.
    func availability(skus: [String], deadline: ContinuousClock.Instant) async throws -> [String: Int64]

    /// Reserves all lines or none; idempotent on `reservationID` (a repeat returns the first outcome).
    /// - Parameters:
    ///   - reservationID: the checkout id.
    ///   - lines: distinct SKUs with quantities.
    ///   - ttl: how long the units are held before inventory releases them itself.
    ///   - deadline: when the answer is no longer wanted.
    /// - Throws: `PortError`.
    func reserve(reservationID: String, lines: [StockRequest], ttl: Duration, deadline: ContinuousClock.Instant)
        async throws -> ReserveOutcome

    /// Turns held units into sold units; idempotent.
    /// - Throws: `PortError` (definite when the reservation is not held, e.g. expired or released).
    func commit(reservationID: String, orderID: String, deadline: ContinuousClock.Instant) async throws

    /// Releases held units and the gate units; idempotent, and a release of an id that was never
    /// reserved succeeds and makes a later Reserve with that id fail.
    /// - Throws: `PortError`.
    func release(reservationID: String, reason: String, deadline: ContinuousClock.Instant) async throws

    /// Moves a held reservation's expiry to `ttl` from now, so that a checkout that takes longer
    /// than the reservation's time to live (a slow payment, a peer down for a while) keeps its units.
    /// - Throws: `PortError` (definite 5 when the reservation no longer exists, 9 when it is not held).
    func extend(reservationID: String, ttl: Duration, deadline: ContinuousClock.Instant) async throws
}

// MARK: Orders

/// One priced order line.
public struct PricedLine: Sendable, Hashable, Codable {
    /// The SKU.
    public var sku: String
    /// Catalog product name.
    public var productName: String
    /// Units.
    public var quantity: Int64
    /// Catalog unit price.
    public var unitPrice: CheckoutMoney
    /// JSON object text of the line's attributes ("" for none).
    public var attributesJSON: String

    /// Creates a line.
    public init(sku: String, productName: String, quantity: Int64, unitPrice: CheckoutMoney, attributesJSON: String) {
        self.sku = sku
        self.productName = productName
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.attributesJSON = attributesJSON
    }
}

/// The customer placing the order.
public struct CheckoutCustomer: Sendable, Hashable, Codable {
    public var customerID: String
    public var name: String
    public var email: String

    /// Creates a customer.
    public init(customerID: String, name: String, email: String) {
        self.customerID = customerID
        self.name = name
        self.email = email
    }
}

/// A postal address.
public struct CheckoutAddress: Sendable, Hashable, Codable {
    public var name: String
    public var line1: String
    public var line2: String
    public var city: String
    public var region: String
    public var postalCode: String
    public var country: String
    public var phone: String

    /// Creates an address.
    public init(
        name: String, line1: String, line2: String = "", city: String, region: String = "", postalCode: String = "",
        country: String, phone: String = ""
    ) {
        self.name = name
        self.line1 = line1
        self.line2 = line2
        self.city = city
        self.region = region
        self.postalCode = postalCode
        self.country = country
        self.phone = phone
    }
}

/// Everything needed to create the order, with catalog prices. Contains no card data, so it is
/// stored in the checkout row.
public struct OrderDraft: Sendable, Hashable, Codable {
    /// The checkout id: the order's idempotency key.
    public var checkoutID: String
    public var customer: CheckoutCustomer
    public var lines: [PricedLine]
    public var shippingAddress: CheckoutAddress
    /// JSON object text ("" for none).
    public var metadataJSON: String
    /// The reservation the order's units are held under (= checkout id).
    public var reservationID: String

    /// Creates a draft.
    public init(
        checkoutID: String, customer: CheckoutCustomer, lines: [PricedLine], shippingAddress: CheckoutAddress,
        metadataJSON: String, reservationID: String
    ) {
        self.checkoutID = checkoutID
        self.customer = customer
        self.lines = lines
        self.shippingAddress = shippingAddress
        self.metadataJSON = metadataJSON
        self.reservationID = reservationID
    }

    /// Sum of unit price × quantity (catalog prices share one currency).
    public var subtotal: CheckoutMoney {
        CheckoutMoney(
            amountMinor: lines.reduce(0) { $0 + $1.unitPrice.amountMinor * $1.quantity },
            currency: lines.first?.unitPrice.currency ?? "")
    }
}

/// An order as the coordinator needs to know it.
public struct OrderSummary: Sendable, Hashable, Codable {
    /// Lifecycle status as the orders service reports it.
    public enum Status: String, Sendable, Hashable, Codable {
        case pendingPayment, confirmed, cancelled, other
    }

    public var orderID: String
    public var status: Status
    public var subtotal: CheckoutMoney
    public var total: CheckoutMoney

    /// Creates a summary.
    public init(orderID: String, status: Status, subtotal: CheckoutMoney, total: CheckoutMoney) {
        self.orderID = orderID
        self.status = status
        self.subtotal = subtotal
        self.total = total
    }
}

/// Orders (`oms.orders.v1.Orders`).
public protocol OrdersPort: Sendable {
    /// Creates the order in PENDING_PAYMENT; idempotent on `draft.checkoutID` (a repeat returns the first order).
    /// - Throws: `PortError`.
    func createOrder(_ draft: OrderDraft, deadline: ContinuousClock.Instant) async throws -> OrderSummary

    /// Confirms a pending order after payment; idempotent.
    /// - Throws: `PortError`.
    func confirmOrder(orderID: String, paymentID: String, paid: CheckoutMoney, deadline: ContinuousClock.Instant)
        async throws

    /// Cancels the order with a reason; idempotent (cancelling a cancelled order succeeds).
    /// - Throws: `PortError`.
    func cancelOrder(orderID: String, reason: String, deadline: ContinuousClock.Instant) async throws

    /// The order created for a checkout, or nil when there is none (resolves unknown outcomes).
    /// - Throws: `PortError`.
    func findOrder(checkoutID: String, deadline: ContinuousClock.Instant) async throws -> OrderSummary?

    /// Cancels the order of a checkout whose order id is not known; when the checkout has no order,
    /// fences it, so a CreateOrder still on its way is refused and leaves no order behind. Idempotent.
    /// - Throws: `PortError`.
    func cancelOrder(checkoutID: String, reason: String, deadline: ContinuousClock.Instant) async throws
}

// MARK: Payments

/// A card as the caller sent it. Held in memory only: never stored, never logged (its
/// `description` is redacted).
public struct CardDetails: Sendable, Hashable, CustomStringConvertible {
    /// The digits of the card number.
    public var number: String
    public var expMonth: UInt32
    public var expYear: UInt32
    public var cvc: String
    public var holderName: String

    /// Creates card details.
    public init(number: String, expMonth: UInt32, expYear: UInt32, cvc: String, holderName: String) {
        self.number = number
        self.expMonth = expMonth
        self.expYear = expYear
        self.cvc = cvc
        self.holderName = holderName
    }

    /// The last four digits.
    public var last4: String { String(number.suffix(4)) }

    public var description: String { "card •••• \(last4) \(expMonth)/\(expYear)" }
}

/// What payments knows about the authorization made under an idempotency key.
public enum PaymentState: Sendable, Hashable {
    /// Funds are held.
    case authorized(paymentID: String)
    /// Declined (or failed); nothing is held.
    case declined(paymentID: String, code: Int32, reason: String)
    /// The provider's outcome is not known yet; ask again later.
    case pending(paymentID: String)
    /// The authorization was voided.
    case voided(paymentID: String)
    /// Captured or refunded (should not happen during checkout).
    case other(paymentID: String, status: String)

    /// The payment id.
    public var paymentID: String {
        switch self {
        case .authorized(let id), .declined(let id, _, _), .pending(let id), .voided(let id), .other(let id, _): id
        }
    }
}

/// Payments (`oms.payments.v1.Payments`).
public protocol PaymentsPort: Sendable {
    /// Authorizes `amount`; idempotent on `idempotencyKey` (the checkout id).
    /// - Returns: `.authorized`, `.declined` or `.pending` (provider outcome unknown).
    /// - Throws: `PortError`.
    func authorize(
        idempotencyKey: String, orderID: String, amount: CheckoutMoney, card: CardDetails, checkoutID: String,
        deadline: ContinuousClock.Instant
    ) async throws -> PaymentState

    /// Voids an authorization; idempotent on `idempotencyKey`.
    /// - Throws: `PortError`.
    func void(paymentID: String, idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant)
        async throws

    /// The payment made under an Authorize idempotency key, or nil when payments never saw the key.
    /// - Throws: `PortError`.
    func lookup(idempotencyKey: String, deadline: ContinuousClock.Instant) async throws -> PaymentState?

    /// Withdraws the Authorize with `idempotencyKey`: when payments has not recorded it yet, it never
    /// will (a request still in flight is refused), and nil comes back; otherwise the payment as it
    /// is, to be voided (authorized) or asked about again (pending). Idempotent.
    /// - Throws: `PortError`.
    func cancelAuthorization(idempotencyKey: String, reason: String, deadline: ContinuousClock.Instant)
        async throws -> PaymentState?
}
