import Testing
import LinearAlgebra
@testable import ModelSurgery

@Suite("The built-in demo")
struct DemoTests {
    @Test("GPTQ beats RTN; EoRA beats SVD at every rank for both; compensation beats quantization alone; more rank helps")
    func demo() throws {
        let demo = CompensationDemo(model: SyntheticModel(blocks: 1, hidden: 64, intermediate: 96, tokens: 256), ranks: [4, 8])
        var reports = 0
        let result = try demo.run { _ in reports += 1 }
        #expect(reports == 7)
        #expect(result.rows.count == 2 * 5 && result.rows.map(\.quantizer) == Array(repeating: .rtn, count: 5) + Array(repeating: .gptq, count: 5))
        func row(_ q: CompensationDemo.Quantizer, _ m: CompensationDemo.Method, _ r: Int) -> CompensationDemo.Row {
            result.rows.first { $0.quantizer == q && $0.method == m && $0.rank == r }!
        }
        #expect(row(.gptq, .quantizedOnly, 0).activationError < 0.9 * row(.rtn, .quantizedOnly, 0).activationError)
        for quantizer in CompensationDemo.Quantizer.allCases {
            let alone = row(quantizer, .quantizedOnly, 0).activationError
            #expect(alone > 0.01)
            for r in [4, 8] {
                let svd = row(quantizer, .svd, r), eora = row(quantizer, .eora, r)
                #expect(eora.activationError < svd.activationError && svd.activationError < alone, "\(quantizer) r = \(r)")
                #expect(eora.adapterParameters == r * (4 * 128 + 2 * 160 + 160))
            }
            #expect(row(quantizer, .eora, 8).activationError < row(quantizer, .eora, 4).activationError)
            #expect(row(.gptq, .eora, 8).activationError < row(.rtn, .eora, 8).activationError)
        }
        #expect(result.adapters.count == 8 && result.adapters.allSatisfy { $0.layers.count == 7 })
        #expect(result.adapters.map(\.folderName).contains("gptq-eora-r8"))
        // Deterministic.
        #expect(try SyntheticModel(blocks: 1, hidden: 32, intermediate: 48, tokens: 64).weight(3)
                == SyntheticModel(blocks: 1, hidden: 32, intermediate: 48, tokens: 64).weight(3))
    }
}
