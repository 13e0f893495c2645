import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("GEMM, Gram and transpose")
struct GEMMTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (0, 0, 0), (1, 1, 1), (1, 9, 5), (9, 1, 5), (4, 4, 0), (3, 5, 1), (37, 53, 29), (64, 64, 64),
        (130, 70, 200), (17, 129, 33), (300, 40, 260),
        // Threaded paths: row blocks, a column split (one row block), several NC blocks.
        (20, 600, 50), (7, 4200, 9), (140, 30, 300),
    ]

    func checkGEMM<T: Scalar>(_: T.Type) {
        for (index, shape) in Self.shapes.enumerated() {
            for opA in [Transpose.none, .transposed] {
                for opB in [Transpose.none, .transposed] {
                    let seed = UInt64(index * 4 + (opA == .none ? 0 : 2) + (opB == .none ? 0 : 1))
                    let a = Matrix<T>.random(rows: opA == .none ? shape.m : shape.k, columns: opA == .none ? shape.k : shape.m, seed: seed)
                    let b = Matrix<T>.random(rows: opB == .none ? shape.k : shape.n, columns: opB == .none ? shape.n : shape.k, seed: seed + 100)
                    let c0 = Matrix<T>.random(rows: shape.m, columns: shape.n, seed: seed + 200)
                    var c = c0
                    Matrix.gemm(a, opA, b, opB, alpha: 0.75, beta: -0.5, into: &c)
                    let ab = referenceProduct(a, opA, b, opB)
                    let expected = Matrix<Double>(rows: shape.m, columns: shape.n) { i, j in 0.75 * ab[i, j] - 0.5 * Double(c0[i, j]) }
                    let scale = (Double(shape.k) + 1).squareRoot() * 4
                    let error = distance(c.converted(to: Double.self), expected) / Swift.max(1, Double(shape.m * shape.n).squareRoot())
                    #expect(error <= Double(T.ulpOfOne) * scale * 10, "gemm \(shape) \(opA) \(opB): error \(error)")
                }
            }
        }
    }

    func checkBetaZeroIgnoresNaN<T: Scalar>(_: T.Type) {
        let a = Matrix<T>.random(rows: 8, columns: 5, seed: 1), b = Matrix<T>.random(rows: 5, columns: 6, seed: 2)
        var c = Matrix<T>(rows: 8, columns: 6, repeating: .nan)
        Matrix.gemm(a, b, into: &c)
        #expect(c.isFinite)
        #expect(distance(c.converted(to: Double.self), referenceProduct(a, .none, b, .none)) < 1e-4)
        var d = Matrix<T>(rows: 8, columns: 6, repeating: .nan)
        Matrix.gemm(Matrix<T>.zeros(rows: 8, columns: 0), Matrix<T>.zeros(rows: 0, columns: 6), into: &d)
        #expect(d == .zeros(rows: 8, columns: 6), "k = 0 with beta = 0 gives exact zeros")
    }

    func checkGram<T: Scalar>(_: T.Type) {
        // Above 256 columns the native Gram works on 128-column block pairs (a partial last block here).
        for (m, n) in [(0, 0), (5, 0), (0, 4), (1, 1), (1, 6), (6, 1), (50, 30), (30, 50), (200, 64), (40, 300), (3, 257)] {
            let a = Matrix<T>.random(rows: m, columns: n, seed: UInt64(m * 1000 + n))
            let g = a.gram()
            #expect(g.rows == n && g.columns == n)
            #expect(g == g.transposed(), "gram is exactly symmetric")
            let expected = referenceProduct(a, .transposed, a, .none)
            #expect(distance(g.converted(to: Double.self), expected) <= Double(T.ulpOfOne) * 40 * Double(Swift.max(m, 1)) * Double(Swift.max(n, 1)).squareRoot())
        }
    }

    @Test("C ← αop(A)op(B) + βC matches a Double reference for every transpose case", arguments: testBackends, ScalarKind.allCases)
    func gemm(backend: Backend, scalar: ScalarKind) {
        Backend.withCurrent(backend) { withScalar(scalar) { checkGEMM($0) } }
    }

    @Test("every native GEMM kernel this CPU runs (baseline, AVX2, AVX-512) matches the reference", arguments: NativeKernel.available, ScalarKind.allCases)
    func nativeKernels(kernel: NativeKernel, scalar: ScalarKind) {
        Backend.withCurrent(.native) { NativeKernel.withCurrent(kernel) { withScalar(scalar) { checkGEMM($0); checkBetaZeroIgnoresNaN($0) } } }
    }

    @Test("β = 0 overwrites C even when it holds NaN", arguments: testBackends, ScalarKind.allCases)
    func betaZero(backend: Backend, scalar: ScalarKind) {
        Backend.withCurrent(backend) { withScalar(scalar) { checkBetaZeroIgnoresNaN($0) } }
    }

    @Test("gram() is AᵀA, exactly symmetric", arguments: testBackends, ScalarKind.allCases)
    func gram(backend: Backend, scalar: ScalarKind) {
        Backend.withCurrent(backend) { withScalar(scalar) { checkGram($0) } }
    }

    @Test("A * B on a closed form", arguments: testBackends)
    func closedForm(backend: Backend) {
        Backend.withCurrent(backend) {
            let a = Matrix<Double>([[1, 2, 3], [4, 5, 6]])
            let b = Matrix<Double>([[7, 8], [9, 10], [11, 12]])
            #expect(a * b == Matrix([[58, 64], [139, 154]]))
            #expect(a.gram() == Matrix([[17, 22, 27], [22, 29, 36], [27, 36, 45]]))
        }
    }

    @Test("transposed() swaps indices, including blocked edges")
    func transpose() {
        for (m, n) in [(0, 0), (0, 5), (1, 1), (1, 40), (40, 1), (33, 65), (100, 7)] {
            let a = Matrix<Float>.random(rows: m, columns: n, seed: 3)
            let t = a.transposed()
            #expect(t.rows == n && t.columns == m)
            for i in 0..<m { for j in 0..<n { #expect(t[j, i] == a[i, j]) } }
            #expect(t.transposed() == a)
        }
    }
}
