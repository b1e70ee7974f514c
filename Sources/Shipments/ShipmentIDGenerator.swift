import OMSCore

/// Shipment ids follow the suite's time-ordered id convention (`TimeOrderedIDGenerator`).
public typealias ShipmentIDGenerator = TimeOrderedIDGenerator
