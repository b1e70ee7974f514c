import OMSCore

/// Checkout ids follow the suite's time-ordered id convention (`TimeOrderedIDGenerator`).
public typealias CheckoutIDGenerator = TimeOrderedIDGenerator
