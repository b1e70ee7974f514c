import NIOCore

/// The deadlines of the calls in flight on one connection, served by a single event-loop timer.
///
/// A `scheduleTask` per call costs a promise, a closure and two searches of the loop's timer heap
/// (insert, and a linear search to cancel); this keeps one timer per connection, armed for the
/// earliest deadline. Finished calls are not removed eagerly: their entries are dropped when they
/// reach the top of the heap or when the heap is compacted, so finishing a call costs nothing
/// here. Confined to the connection's event loop.
struct CallDeadlineTimer {
    /// One call's deadline; `sequence` tells a call apart from a later one reusing its id.
    struct Entry {
        var deadline: NIODeadline
        var callID: UInt64
        var sequence: UInt64
    }

    /// Min-heap on `deadline`.
    private var heap: [Entry] = []
    private var scheduled: Scheduled<Void>?
    private var armedFor: NIODeadline?

    /// Entries held, live or finished.
    var count: Int { heap.count }

    /// Adds a call's deadline and re-arms the timer when it is the new earliest one.
    /// - Parameters:
    ///   - entry: The call and its absolute deadline.
    ///   - eventLoop: The connection's event loop (the caller runs on it).
    ///   - fire: Runs on the event loop when the timer goes off; it should call `expire`.
    mutating func add(_ entry: Entry, on eventLoop: any EventLoop, fire: @escaping () -> Void) {
        push(entry)
        if let armedFor, armedFor <= entry.deadline { return }
        arm(for: entry.deadline, on: eventLoop, fire: fire)
    }

    /// Call from the timer's `fire`: returns every expired live call (for the caller to answer,
    /// outside this mutation), drops finished entries, and re-arms for the next live deadline.
    /// - Parameters:
    ///   - now: The current time.
    ///   - eventLoop: The connection's event loop.
    ///   - isLive: Whether the call is still in flight.
    ///   - fire: The same closure as given to `add`.
    /// - Returns: The calls whose deadline passed, earliest first.
    mutating func expire(
        now: NIODeadline, on eventLoop: any EventLoop, isLive: (Entry) -> Bool, fire: @escaping () -> Void
    ) -> [Entry] {
        scheduled = nil
        armedFor = nil
        var due: [Entry] = []
        while let top = heap.first, top.deadline <= now || !isLive(top) {
            popMin()
            if top.deadline <= now, isLive(top) { due.append(top) }
        }
        if let next = heap.first { arm(for: next.deadline, on: eventLoop, fire: fire) }
        return due
    }

    /// Drops finished entries when they outnumber the live calls; amortised O(1) per call.
    /// - Parameters:
    ///   - liveCount: Calls in flight.
    ///   - isLive: Whether an entry's call is still in flight.
    mutating func compactIfNeeded(liveCount: Int, isLive: (Entry) -> Bool) {
        if liveCount == 0 {
            heap.removeAll(keepingCapacity: heap.count <= 1024)
            return
        }
        guard heap.count > 2 * liveCount + 64 else { return }
        heap.removeAll(where: { !isLive($0) })
        // Floyd's heap construction.
        var index = heap.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    /// Stops the timer and forgets every deadline (the connection is closing).
    mutating func cancelAll() {
        scheduled?.cancel()
        scheduled = nil
        armedFor = nil
        heap.removeAll()
    }

    private mutating func arm(for deadline: NIODeadline, on eventLoop: any EventLoop, fire: @escaping () -> Void) {
        scheduled?.cancel()
        armedFor = deadline
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline, fire)
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popMin() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            let right = left + 1
            var smallest = left
            if right < count, heap[right].deadline < heap[left].deadline { smallest = right }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
