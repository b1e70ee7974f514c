import OMSCore

/// Payment ids follow the suite's time-ordered id convention (`TimeOrderedIDGenerator`).
public typealias PaymentIDGenerator = TimeOrderedIDGenerator
