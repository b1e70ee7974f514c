import OMSRPCCore

/// An ISO 4217 currency the service accepts, with the number of digits of its minor unit.
///
/// The list is fixed on purpose: an amount in minor units only means something when both sides
/// agree on the exponent, so an unknown code is refused (3 INVALID_ARGUMENT) rather than guessed.
public struct Currency: Sendable, Hashable, CustomStringConvertible {
    /// The three-letter upper-case code, e.g. `EUR`.
    public let code: String
    /// Digits after the decimal point of the major unit (2 for EUR, 0 for JPY, 3 for KWD).
    public let minorUnitDigits: Int

    private init(code: String, minorUnitDigits: Int) {
        self.code = code
        self.minorUnitDigits = minorUnitDigits
    }

    /// The currency for an ISO 4217 code, or nil when the code is not on the accepted list.
    /// Matching is exact: `eur` is not `EUR`.
    /// - Parameter code: the three-letter code.
    public init?(code: String) {
        guard let digits = Currency.table[code] else { return nil }
        self.init(code: code, minorUnitDigits: digits)
    }

    public var description: String { code }

    /// Accepted codes and their minor-unit digits (ISO 4217).
    static let table: [String: Int] = [
        "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2,
        "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2,
        "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NGN": 2,
        "NOK": 2, "NZD": 2, "OMR": 3, "PEN": 2, "PHP": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2,
        "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
    ]

    /// Every accepted code, sorted.
    public static var acceptedCodes: [String] { table.keys.sorted() }
}

/// Limits and checks for amounts in minor units.
public enum MoneyRules {
    /// The largest amount one payment may carry, in minor units (just under 10^15: ten trillion
    /// major units at two digits). Keeping every amount far below `Int64.max` means sums of
    /// captures and refunds, which the ledger bounds by the authorized amount, can never overflow.
    public static let maximumMinorUnits: Int64 = 999_999_999_999_999

    /// Checks an amount and returns it.
    /// - Parameters:
    ///   - amount: minor units from the caller.
    ///   - field: the request field, for the error message.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT when the amount is zero, negative or above the maximum.
    @discardableResult
    public static func validateAmount(_ amount: Int64, field: String) throws -> Int64 {
        guard amount > 0 else {
            throw RPCError.invalidArgument("\(field) must be a positive number of minor units, got \(amount)")
        }
        guard amount <= maximumMinorUnits else {
            throw RPCError.invalidArgument("\(field) exceeds the maximum of \(maximumMinorUnits) minor units")
        }
        return amount
    }

    /// Checks a currency code.
    /// - Parameters:
    ///   - code: the caller's ISO 4217 code.
    ///   - field: the request field, for the error message.
    /// - Throws: `RPCError` 3 INVALID_ARGUMENT when the code is not an accepted ISO 4217 code.
    public static func validateCurrency(_ code: String, field: String) throws -> Currency {
        guard let currency = Currency(code: code) else {
            let shown = code.count > 8 ? String(code.prefix(8)) + "…" : code
            throw RPCError.invalidArgument("\(field) '\(shown)' is not a supported ISO 4217 currency code")
        }
        return currency
    }
}
