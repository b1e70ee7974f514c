import Foundation

/// One line as the caller asked for it (no price: prices come from the catalog).
public struct RequestedLine: Sendable, Hashable, Codable {
    public var sku: String
    public var quantity: Int64
    /// JSON object text ("" for none).
    public var attributesJSON: String

    /// Creates a line.
    public init(sku: String, quantity: Int64, attributesJSON: String = "") {
        self.sku = sku
        self.quantity = quantity
        self.attributesJSON = attributesJSON
    }
}

/// A validated PlaceOrder request in domain terms.
public struct PlaceOrderCommand: Sendable, Hashable {
    public var idempotencyKey: String
    public var customer: CheckoutCustomer
    public var lines: [RequestedLine]
    /// Held in memory only (see `CardDetails`).
    public var card: CardDetails
    public var shippingAddress: CheckoutAddress
    /// JSON object text ("" for none).
    public var metadataJSON: String

    /// Creates a command. Use `CheckoutValidation.command(from:)` to build one from the wire request.
    public init(
        idempotencyKey: String, customer: CheckoutCustomer, lines: [RequestedLine], card: CardDetails,
        shippingAddress: CheckoutAddress, metadataJSON: String = ""
    ) {
        self.idempotencyKey = idempotencyKey
        self.customer = customer
        self.lines = lines
        self.card = card
        self.shippingAddress = shippingAddress
        self.metadataJSON = metadataJSON
    }
}

/// A placed order.
public struct PlacedOrder: Sendable, Hashable, Codable {
    public var orderID: String
    public var subtotal: CheckoutMoney
    public var total: CheckoutMoney
    public var paymentID: String
    public var reservationID: String

    /// Creates a placed order.
    public init(orderID: String, subtotal: CheckoutMoney, total: CheckoutMoney, paymentID: String, reservationID: String) {
        self.orderID = orderID
        self.subtotal = subtotal
        self.total = total
        self.paymentID = paymentID
        self.reservationID = reservationID
    }
}

/// The final answer of a checkout; stored once and replayed for the same key.
public enum CheckoutOutcome: Sendable, Hashable {
    case placed(PlacedOrder)
    case rejected(CheckoutRejection)
}

extension CheckoutOutcome: Codable {
    private enum CodingKeys: String, CodingKey { case kind, placed, rejection }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "placed": self = .placed(try c.decode(PlacedOrder.self, forKey: .placed))
        default: self = .rejected(try c.decode(CheckoutRejection.self, forKey: .rejection))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .placed(let p):
            try c.encode("placed", forKey: .kind)
            try c.encode(p, forKey: .placed)
        case .rejected(let r):
            // The kind is indexed (generated column `outcome`).
            try c.encode(r.label, forKey: .kind)
            try c.encode(r, forKey: .rejection)
        }
    }

    /// `placed` or the rejection label (metrics dimension).
    public var label: String {
        switch self {
        case .placed: "placed"
        case .rejected(let r): r.label
        }
    }
}

/// The answer to PlaceOrder: the final outcome, or nil while the first call with the key is still running.
public struct CheckoutResult: Sendable, Hashable {
    public var checkoutID: String
    /// nil: in progress.
    public var outcome: CheckoutOutcome?

    /// Creates a result.
    public init(checkoutID: String, outcome: CheckoutOutcome?) {
        self.checkoutID = checkoutID
        self.outcome = outcome
    }
}

/// What is stored of the request besides its hash: the draft with catalog prices and the card's
/// last four digits (never the number or the CVC).
public struct StoredRequest: Sendable, Hashable, Codable {
    public var draft: OrderDraft
    public var cardLast4: String

    /// Creates a stored request.
    public init(draft: OrderDraft, cardLast4: String) {
        self.draft = draft
        self.cardLast4 = cardLast4
    }
}

/// A checkout as stored.
public struct CheckoutSnapshot: Sendable, Hashable {
    public var checkoutID: Int64
    public var idempotencyKey: String
    public var requestHash: String
    public var saga: CheckoutSaga
    public var request: StoredRequest
    public var outcome: CheckoutOutcome?
    public var attempts: Int
    public var version: Int64
    public var leaseOwner: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// When recovery parked the checkout (it gave up after `max-attempts` passes), and why.
    public var parked: Parking?

    /// Recovery gave up on a checkout; an operator resumes it.
    public struct Parking: Sendable, Hashable {
        public var at: Date
        public var reason: String
    }

    /// Creates a snapshot.
    public init(
        checkoutID: Int64, idempotencyKey: String, requestHash: String, saga: CheckoutSaga, request: StoredRequest,
        outcome: CheckoutOutcome?, attempts: Int, version: Int64, leaseOwner: String?, createdAt: Date, updatedAt: Date
    ) {
        self.checkoutID = checkoutID
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.saga = saga
        self.request = request
        self.outcome = outcome
        self.attempts = attempts
        self.version = version
        self.leaseOwner = leaseOwner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The checkout id as it appears on the wire.
    public var checkoutIDString: String { String(checkoutID) }
}
