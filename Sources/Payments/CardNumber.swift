import OMSRPCCore

/// A card brand, derived from the leading digits (IIN range) of the number.
public enum CardBrand: String, Sendable, Hashable, CaseIterable {
    case visa, mastercard, amex, discover, unknown

    /// The brand of a digit string.
    static func of(_ digits: [UInt8]) -> CardBrand {
        func prefix(_ n: Int) -> Int {
            digits.prefix(n).reduce(0) { $0 * 10 + Int($1) }
        }
        if digits.first == 4 { return .visa }
        if (51...55).contains(prefix(2)) || (2221...2720).contains(prefix(4)) { return .mastercard }
        if prefix(2) == 34 || prefix(2) == 37 { return .amex }
        if prefix(4) == 6011 || prefix(2) == 65 { return .discover }
        return .unknown
    }
}

/// A primary account number that passed the format and Luhn checks.
///
/// The full number exists only in memory, on its way to the provider. `description` and
/// `debugDescription` print the redacted form (`visa •••• 4242`), so a stray interpolation in a
/// log line cannot leak it; only `brand` and `lastFour` are ever stored.
public struct CardNumber: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The digits, one per element (0...9).
    private let digits: [UInt8]
    /// The brand from the IIN range.
    public let brand: CardBrand

    /// Parses a card number. Spaces and dashes between digit groups are ignored.
    /// - Parameter text: what the caller sent.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT when the text is not 12 to 19 digits or fails the Luhn check.
    ///   The message never repeats the number.
    public init(_ text: String, field: String = "card number") throws {
        var digits: [UInt8] = []
        digits.reserveCapacity(19)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "0"..."9": digits.append(UInt8(scalar.value - 48))
            case " ", "-": continue
            default: throw RPCError.invalidArgument("\(field) must contain only digits")
            }
            if digits.count > 19 { break }
        }
        guard (12...19).contains(digits.count) else {
            throw RPCError.invalidArgument("\(field) must have 12 to 19 digits")
        }
        guard CardNumber.luhnValid(digits) else {
            throw RPCError.invalidArgument("\(field) fails the Luhn check")
        }
        self.digits = digits
        self.brand = CardBrand.of(digits)
    }

    /// The last four digits, the only part of the number that is stored or logged.
    public var lastFour: String {
        String(digits.suffix(4).map { Character(Unicode.Scalar($0 + 48)) })
    }

    /// The full number as a digit string. Only a `PaymentProvider` may call this.
    public var fullNumber: String {
        String(digits.map { Character(Unicode.Scalar($0 + 48)) })
    }

    public var description: String { "\(brand.rawValue) •••• \(lastFour)" }
    public var debugDescription: String { description }

    /// The Luhn (mod 10) check over digits.
    static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            var d = Int(digit)
            if offset % 2 == 1 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return sum % 10 == 0
    }

    /// The Luhn check over a digit string (test helper and sandbox use).
    public static func passesLuhn(_ text: String) -> Bool {
        let digits = text.unicodeScalars.compactMap { ("0"..."9").contains($0) ? UInt8($0.value - 48) : nil }
        return !digits.isEmpty && luhnValid(digits)
    }
}

/// A card as the provider sees it: the number plus expiry. Never stored; see `CardSummary`.
public struct CardDetails: Sendable, Hashable, CustomStringConvertible {
    public let number: CardNumber
    /// 1...12.
    public let expiryMonth: Int
    /// Four digits, e.g. 2030.
    public let expiryYear: Int

    /// - Parameters:
    ///   - number: a checked card number.
    ///   - expiryMonth: 1...12.
    ///   - expiryYear: 2000...2199.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT when the expiry is out of range.
    public init(number: CardNumber, expiryMonth: Int, expiryYear: Int, fieldPrefix: String = "card") throws {
        guard (1...12).contains(expiryMonth) else {
            throw RPCError.invalidArgument("\(fieldPrefix).exp_month must be 1...12, got \(expiryMonth)")
        }
        guard (2000...2199).contains(expiryYear) else {
            throw RPCError.invalidArgument("\(fieldPrefix).exp_year must be a four-digit year, got \(expiryYear)")
        }
        self.number = number
        self.expiryMonth = expiryMonth
        self.expiryYear = expiryYear
    }

    /// What may be stored and logged.
    public var summary: CardSummary {
        CardSummary(brand: number.brand, lastFour: number.lastFour, expiryMonth: expiryMonth, expiryYear: expiryYear)
    }

    public var description: String { summary.description }
}

/// The stored, loggable view of a card: brand, last four digits and expiry.
public struct CardSummary: Sendable, Hashable, CustomStringConvertible {
    public var brand: CardBrand
    public var lastFour: String
    public var expiryMonth: Int
    public var expiryYear: Int

    public init(brand: CardBrand, lastFour: String, expiryMonth: Int, expiryYear: Int) {
        self.brand = brand
        self.lastFour = lastFour
        self.expiryMonth = expiryMonth
        self.expiryYear = expiryYear
    }

    public var description: String { "\(brand.rawValue) •••• \(lastFour)" }
}
