import OMSLoadgenCore
import Testing

@Suite struct FlashSalePlanTests {
    func plan(seed: UInt64 = 42, buyers: Int = 2000, declineRate: Double = 0.1, maxQuantity: Int = 3) -> FlashSalePlan {
        FlashSalePlan(seed: seed, buyers: buyers, declineRate: declineRate, maxQuantity: maxQuantity)
    }

    @Test func sameSeedSamePlanDifferentSeedDifferentPlan() {
        let a = (0..<2000).map(plan(seed: 42).checkout)
        #expect(a == (0..<2000).map(plan(seed: 42).checkout))
        let b = (0..<2000).map(plan(seed: 43).checkout)
        #expect(a != b)
        // Not just one buyer: a good share of the carts differ.
        #expect(zip(a, b).filter { $0 != $1 }.count > 200)
    }

    @Test func aBuyersCartDoesNotDependOnTheOthers() {
        let p = plan()
        let inOrder = (0..<500).map(p.checkout)
        let reversed = (0..<500).reversed().map(p.checkout).reversed()
        #expect(inOrder == Array(reversed))
    }

    @Test func everyCartIsOneLineOfTheHotSku() {
        let p = plan()
        for i in 0..<2000 {
            let c = p.checkout(i)
            #expect(c.index == i && c.customer == i)
            #expect(c.lines.count == 1 && c.lines[0].skuIndex == 0)
            #expect((1...3).contains(c.lines[0].quantity))
            #expect(c.units == c.lines[0].quantity)
        }
    }

    @Test func declineShareAndQuantityWeights() {
        let carts = (0..<20_000).map(plan(buyers: 20_000).checkout)
        let declined = Double(carts.filter(\.declinedCard).count) / 20_000
        #expect(abs(declined - 0.1) < 0.015)
        // Weights 1, 1/4, 1/9 over 49/36: P(1) = 36/49 ≈ 0.735, P(2) ≈ 0.184, P(3) ≈ 0.082.
        let ones = Double(carts.filter { $0.units == 1 }.count) / 20_000
        let threes = Double(carts.filter { $0.units == 3 }.count) / 20_000
        #expect(abs(ones - 36.0 / 49) < 0.02)
        #expect(abs(threes - 4.0 / 49) < 0.015)

        #expect(!(0..<1000).map(plan(declineRate: 0).checkout).contains { $0.declinedCard })
        #expect((0..<1000).map(plan(declineRate: 1).checkout).allSatisfy { $0.declinedCard })
        #expect((0..<1000).map(plan(maxQuantity: 1).checkout).allSatisfy { $0.units == 1 })
    }

    @Test func quantityIsTheInverseOfTheWeights() {
        // maxQuantity 2: weights 1 and 1/4, so P(1) = 0.8.
        #expect(FlashSalePlan.quantity(maxQuantity: 2, unit: 0) == 1)
        #expect(FlashSalePlan.quantity(maxQuantity: 2, unit: 0.79) == 1)
        #expect(FlashSalePlan.quantity(maxQuantity: 2, unit: 0.81) == 2)
        #expect(FlashSalePlan.quantity(maxQuantity: 2, unit: 0.999_999) == 2)
        #expect(FlashSalePlan.quantity(maxQuantity: 1, unit: 0.999_999) == 1)
    }
}

@Suite struct MixedPlanTests {
    func plan(
        seed: UInt64 = 42, catalogSize: Int = 200, checkoutShare: Double = 0.4, maxLines: Int = 5, maxQuantity: Int = 3
    ) -> MixedPlan {
        MixedPlan(
            seed: seed, catalogSize: catalogSize, customers: 50, checkoutShare: checkoutShare, declineRate: 0.05,
            maxLines: maxLines, maxQuantity: maxQuantity, zipfExponent: 1)
    }

    @Test func sameSeedSamePlanDifferentSeedDifferentPlan() {
        let a = (0..<3000).map(plan(seed: 7).operation)
        #expect(a == (0..<3000).map(plan(seed: 7).operation))
        let b = (0..<3000).map(plan(seed: 8).operation)
        #expect(zip(a, b).filter { $0 != $1 }.count > 1000)
        #expect((0..<500).map(plan(seed: 7).checkoutOnly) == (0..<500).map(plan(seed: 7).checkoutOnly))
        #expect((0..<500).map(plan(seed: 7).checkoutOnly) != (0..<500).map(plan(seed: 8).checkoutOnly))
    }

    @Test func cartsAreWellFormed() {
        let p = plan()
        for i in 0..<3000 {
            let c = p.checkoutOnly(i)
            #expect(c.index == i && (0..<50).contains(c.customer))
            #expect((1...5).contains(c.lines.count))
            #expect(c.lines.map(\.skuIndex) == Array(Set(c.lines.map(\.skuIndex))).sorted(), "distinct, sorted")
            #expect(c.lines.allSatisfy { (0..<200).contains($0.skuIndex) && (1...3).contains($0.quantity) })
        }
        // More lines than SKUs: capped at the catalog.
        let tiny = plan(catalogSize: 2, maxLines: 5)
        #expect(tiny.maxLines == 2)
        #expect((0..<500).allSatisfy { tiny.checkoutOnly($0).lines.count <= 2 })
    }

    @Test func operationMixFollowsTheShares() {
        let ops = (0..<20_000).map(plan().operation)
        func share(_ kind: String) -> Double { Double(ops.filter { $0.kind == kind }.count) / 20_000 }
        #expect(abs(share("checkout") - 0.4) < 0.02)
        #expect(abs(share("get_product") - 0.3) < 0.02)
        #expect(abs(share("get_stock") - 0.15) < 0.02)
        #expect(abs(share("list_orders") - 0.15) < 0.02)
        #expect((0..<1000).map(plan(checkoutShare: 1).operation).allSatisfy { $0.kind == "checkout" })
        #expect(!(0..<1000).map(plan(checkoutShare: 0).operation).contains { $0.kind == "checkout" })
    }

    @Test func popularSkusAreBoughtMost() {
        let p = plan()
        var counts = [Int](repeating: 0, count: 200)
        for i in 0..<5000 { for l in p.checkoutOnly(i).lines { counts[l.skuIndex] += 1 } }
        #expect(counts.firstIndex(of: counts.max()!) == 0)
        #expect(counts[0] > counts[10] && counts[10] > counts[150])
    }

    /// The baseline replays the same carts as the suite run: a checkout operation and `checkoutOnly` agree.
    @Test func checkoutOnlyRepeatsTheMixedRunsCarts() {
        let p = plan()
        var compared = 0
        for i in 0..<2000 {
            if case .checkout(let c) = p.operation(i) {
                #expect(c == p.checkoutOnly(i), "operation \(i)")
                compared += 1
            }
        }
        #expect(compared > 500)
    }
    /// The fulfilment stream draws from its own stream: the operations stay those of a run without it, a share
    /// of about `fulfilFraction` of the checkouts ships, every line ships 1...quantity units and returns no more
    /// than shipped.
    @Test func fulfilmentIsASeparateStreamWithinTheCart() {
        let base = plan()
        let fulfilling = MixedPlan(
            seed: 42, catalogSize: 200, customers: 50, checkoutShare: 0.4, declineRate: 0.05, maxLines: 5,
            maxQuantity: 3, zipfExponent: 1.0, fulfilFraction: 0.2, returnFraction: 0.5)
        var shipped = 0
        var returned = 0
        for i in 0..<5000 {
            let c = base.checkoutOnly(i)
            #expect(c == fulfilling.checkoutOnly(i))
            #expect(base.fulfilment(of: c) == nil)
            guard let f = fulfilling.fulfilment(of: c) else { continue }
            shipped += 1
            if f.hasReturn { returned += 1 }
            #expect(f.shipped.count == c.lines.count && f.returned.count == c.lines.count)
            for (j, line) in c.lines.enumerated() {
                #expect((1...line.quantity).contains(f.shipped[j]) && (0...f.shipped[j]).contains(f.returned[j]))
            }
            #expect(f == fulfilling.fulfilment(of: c), "the same seed, the same fulfilment")
        }
        #expect(abs(Double(shipped) / 5000 - 0.2) < 0.03)
        #expect(abs(Double(returned) / Double(shipped) - 0.5) < 0.08)
    }
}
