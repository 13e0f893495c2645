import Testing
import LinearAlgebra
@testable import ModelSurgery

@Suite("The built-in demo")
struct DemoTests {
    @Test("EoRA beats SVD at every rank, both beat RTN alone, more rank helps")
    func demo() throws {
        let demo = CompensationDemo(model: SyntheticModel(blocks: 1, hidden: 64, intermediate: 96, tokens: 256), ranks: [4, 8])
        var reports = 0
        let result = try demo.run { _ in reports += 1 }
        #expect(reports == 7)
        let rtn = result.rows.first { $0.method == .quantizedOnly }!.activationError
        #expect(rtn > 0.01)
        for r in [4, 8] {
            let svd = result.rows.first { $0.method == .svd && $0.rank == r }!
            let eora = result.rows.first { $0.method == .eora && $0.rank == r }!
            #expect(eora.activationError < svd.activationError && svd.activationError < rtn, "r = \(r)")
            #expect(eora.adapterParameters == 7 * 0 + r * (4 * 128 + 2 * 160 + 160))
        }
        #expect(result.rows.first { $0.method == .eora && $0.rank == 8 }!.activationError
                < result.rows.first { $0.method == .eora && $0.rank == 4 }!.activationError)
        #expect(result.adapters.count == 4 && result.adapters.allSatisfy { $0.layers.count == 7 })
        // Deterministic.
        #expect(try SyntheticModel(blocks: 1, hidden: 32, intermediate: 48, tokens: 64).weight(3)
                == SyntheticModel(blocks: 1, hidden: 32, intermediate: 48, tokens: 64).weight(3))
    }
}
