import ArgumentParser
import LinearAlgebra

/// `rankwise demo`: the built-in example. Until the compression tools land it
/// runs each decomposition on a deterministic, weight-shaped matrix with every
/// available backend and prints time and agreement side by side.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in example (no input, no network): both backends on a weight-shaped matrix."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Size n of the n×n example matrix.")
    var size = 384

    func validate() throws {
        guard (8...4096).contains(size) else { throw ValidationError("--size must be between 8 and 4096, got \(size)") }
    }

    func run() throws {
        try global.run { console in
            let n = size
            // A weight-like matrix: Gaussian with column scales 1/√(j+1), so its
            // spectrum decays like a trained layer's. Built without any
            // decomposition, so it is the same on every backend.
            var w = Matrix<Float>.random(rows: n, columns: n, seed: 1)
            w.scaleColumns(by: (0..<n).map { 1 / Float($0 + 1).squareRoot() })
            let x = Matrix<Float>.random(rows: 2 * n, columns: n, seed: 3)
            let covariance = x.gram()
            console.progress("example: \(n)×\(n) Float weight with graded columns, Gram of \(2 * n) tokens; backends: \(Backend.available.map(\.rawValue).joined(separator: ", "))")

            struct Row { let name: String; var seconds: [Backend: Double] = [:]; var check: [Backend: Double] = [:] }
            var rows: [Row] = []
            func measure(_ name: String, _ body: () throws -> Double) rethrows {
                var row = Row(name: name)
                for backend in Backend.available {
                    let start = ContinuousClock.now
                    let check = try Backend.withCurrent(backend, body)
                    row.seconds[backend] = secondsSince(start)
                    row.check[backend] = check
                }
                rows.append(row)
                console.detail("\(name) done")
            }
            let wNorm = Double(w.frobeniusNorm())
            measure("GEMM W·W") { Double(distance(w * w, reference: w, w)) / (wNorm * wNorm) }
            try measure("SVD") { let s = try w.svd(); return Double((s.reconstructed() - w).frobeniusNorm()) / wNorm }
            try measure("singular values") { Double(try w.singularValues()[0]) }
            try measure("eigen (Gram)") {
                let e = try covariance.symmetricEigen()
                var ql = e.vectors
                ql.scaleColumns(by: e.values)
                return Double((covariance * e.vectors - ql).frobeniusNorm() / covariance.frobeniusNorm())
            }
            try measure("Cholesky (Gram)") {
                let l = try covariance.cholesky()
                return Double((Matrix.product(l, .none, l, .transposed) - covariance).frobeniusNorm() / covariance.frobeniusNorm())
            }
            try measure("QR") { let f = try w.qr(); return Double((f.q * f.r - w).frobeniusNorm()) / wNorm }
            try measure("randomized SVD r=32") {
                let s = try w.randomizedSVD(rank: 32)
                return Double((s.reconstructed() - w).frobeniusNorm()) / wNorm
            }

            let backends = Backend.available
            var table = ["operation".padding(22) + backends.map { "\($0.rawValue) s".padding(12) + "check".padding(11) }.joined()]
            if backends.count == 2 { table[0] += "native/openblas" }
            for row in rows {
                var line = row.name.padding(22)
                for b in backends { line += (row.seconds[b] ?? 0).formatted(4).padding(12) + scientific(row.check[b] ?? 0).padding(11) }
                if backends.count == 2, let o = row.seconds[.openBLAS], let nat = row.seconds[.native], o > 0 {
                    line += "\((nat / o).formatted(1))×"
                }
                table.append(line)
            }
            console.output(table.joined(separator: "\n"))
            console.output("check: relative residual (reconstruction, S Q − Q Λ, L Lᵀ − S, QR − A) or σ₁; both backends should agree.")
            try console.emitJSON([
                "size": n,
                "backends": backends.map(\.rawValue),
                "rows": rows.map { row in
                    ["operation": row.name,
                     "seconds": Dictionary(uniqueKeysWithValues: row.seconds.map { ($0.key.rawValue, $0.value) }),
                     "check": Dictionary(uniqueKeysWithValues: row.check.map { ($0.key.rawValue, $0.value) })] as [String: Any]
                },
            ])
        }
    }
}

/// ‖A·B − reference‖ relative scale for the GEMM row: the product against a
/// Double-precision product of the same Float inputs.
private func distance(_ product: Matrix<Float>, reference a: Matrix<Float>, _ b: Matrix<Float>) -> Float {
    let exact = Backend.withCurrent(.native) { a.converted(to: Double.self) * b.converted(to: Double.self) }
    return Float((product.converted(to: Double.self) - exact).frobeniusNorm())
}

private func scientific(_ x: Double) -> String { String(format: "%.2e", x) }

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
