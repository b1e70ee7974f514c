import Metrics

/// The coordinator's metrics (swift-metrics; exported by the service kit's Prometheus endpoint).
///
/// `oms_checkout_checkouts_total{outcome}` (placed, out_of_stock, payment_declined,
/// invalid_request, failed), `oms_checkout_step_duration_seconds{step,result}`,
/// `oms_checkout_compensations_total{step,result}`, `oms_checkout_recoveries_total{result}`
/// (claimed, finished, deferred, parked), `oms_checkout_unknown_outcomes_total{step}`,
/// `oms_checkout_idempotent_replays_total{kind}` (result, in_progress, conflict),
/// `oms_checkout_open` (open checkouts seen by the last sweeper pass), `oms_checkout_parked`
/// (of those, checkouts recovery gave up on, waiting for an operator),
/// `oms_checkout_stock_precheck_rejections_total` (answered out of stock before anything was reserved).
struct CheckoutMetrics: Sendable {
    let open = Gauge(label: "oms_checkout_open")
    let parked = Gauge(label: "oms_checkout_parked")

    func finished(_ outcome: CheckoutOutcome) {
        Counter(label: "oms_checkout_checkouts_total", dimensions: [("outcome", outcome.label)]).increment()
    }

    func step(_ step: CheckoutStep, result: String, duration: Duration) {
        Timer(label: "oms_checkout_step_duration_seconds", dimensions: [("step", step.rawValue), ("result", result)])
            .record(duration: duration)
    }

    func compensation(_ step: CheckoutStep, result: String) {
        Counter(label: "oms_checkout_compensations_total", dimensions: [("step", step.rawValue), ("result", result)])
            .increment()
    }

    func recovery(_ result: String) {
        Counter(label: "oms_checkout_recoveries_total", dimensions: [("result", result)]).increment()
    }

    func unknownOutcome(_ step: CheckoutStep) {
        Counter(label: "oms_checkout_unknown_outcomes_total", dimensions: [("step", step.rawValue)]).increment()
    }

    func precheckRejected() {
        Counter(label: "oms_checkout_stock_precheck_rejections_total").increment()
    }

    func replay(_ kind: String) {
        Counter(label: "oms_checkout_idempotent_replays_total", dimensions: [("kind", kind)]).increment()
    }
}
