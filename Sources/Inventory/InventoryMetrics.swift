import Metrics

/// The service's metrics (swift-metrics; exported by the runner's Prometheus endpoint).
struct InventoryMetrics: Sendable {
    /// Reserve outcomes: `reserved`, `existing`, `gate_sold_out`, `mysql_sold_out`, `refused`.
    func reserveOutcome(_ outcome: String) { Counter(label: "oms_inventory_reserve_total", dimensions: [("outcome", outcome)]).increment() }
    /// A gate call failed and the MySQL-only path was used (Redis unreachable or erroring).
    let gateUnavailable = Counter(label: "oms_inventory_gate_unavailable_total")
    /// Gate keys warmed from MySQL.
    let gateWarmed = Counter(label: "oms_inventory_gate_warm_total")
    /// MySQL refused what the gate let through (units given back).
    let gateDisagreed = Counter(label: "oms_inventory_gate_disagreement_total")
    /// Drift alerts raised by reconciliation.
    let driftAlerts = Counter(label: "oms_inventory_drift_alerts_total")
    /// Gate keys repaired by reconciliation.
    let driftRepairs = Counter(label: "oms_inventory_drift_repairs_total")
    /// SKUs checked by reconciliation.
    let reconciledSKUs = Counter(label: "oms_inventory_reconcile_skus_total")
    /// Largest absolute drift seen by the last reconciliation run.
    let lastMaxDrift = Gauge(label: "oms_inventory_reconcile_max_drift")
    /// Reservations expired by the sweeper.
    let expired = Counter(label: "oms_inventory_reservations_expired_total")
    /// Stale gate holds resolved by reconciliation.
    let staleHolds = Counter(label: "oms_inventory_stale_holds_total")
    /// Duration of a Reserve call.
    let reserveDuration = Timer(label: "oms_inventory_reserve_duration")
}
