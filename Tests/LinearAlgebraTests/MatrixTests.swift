import Testing
@testable import LinearAlgebra

@Suite("Matrix basics")
struct MatrixTests {
    @Test func construction() {
        var a = Matrix<Double>(rows: 3, columns: 2, elements: [1, 2, 3, 4, 5, 6])
        #expect(a.rows == 3 && a.columns == 2)
        #expect(a[1, 0] == 3)
        a[1, 0] = 7
        #expect(a.elements == [1, 2, 7, 4, 5, 6])
        #expect(Matrix<Float>.identity(3).elements == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(Matrix<Float>.zeros(rows: 2, columns: 0).isEmpty)
        #expect(a.row(2) == [5, 6] && a.column(1) == [2, 4, 6])
        #expect(a.submatrix(rows: 1..<3, columns: 1..<2).elements == [4, 6])
        #expect(Matrix<Double>.diagonal([1, 2]).elements == [1, 0, 0, 2])
    }

    @Test func valueSemantics() {
        let a = Matrix<Float>.random(rows: 4, columns: 4, seed: 9)
        var b = a
        b[0, 0] = 100
        #expect(a[0, 0] != 100, "mutating a copy leaves the original alone")
    }

    @Test func arithmeticAndNorms() {
        let a = Matrix<Double>([[3, -4], [0, 0]])
        #expect(a.frobeniusNorm() == 5)
        #expect(a.maxAbs() == 4)
        #expect((a + a).elements == [6, -8, 0, 0])
        #expect((a - a).elements == [0, 0, 0, 0])
        #expect((2 * a).elements == [6, -8, 0, 0])
        #expect(a.hadamard(a).elements == [9, 16, 0, 0])
        #expect(Matrix<Double>.identity(4).trace() == 4)
        // No overflow or underflow in the norm.
        #expect(Matrix<Float>([[3e30, 4e30]]).frobeniusNorm() == 5e30)
        #expect(Matrix<Float>([[3e-30, 4e-30]]).frobeniusNorm().isApproximatelyEqual(to: 5e-30, relativeTolerance: 1e-6))
        #expect(Matrix<Double>([[3e200, 4e200]]).frobeniusNorm().isApproximatelyEqual(to: 5e200, relativeTolerance: 1e-15))
        #expect(Matrix<Double>([[3e-200, 4e-200]]).frobeniusNorm().isApproximatelyEqual(to: 5e-200, relativeTolerance: 1e-15))
        #expect(Matrix<Double>([[.nan, 1]]).frobeniusNorm().isNaN && Matrix<Float>([[.infinity, 1]]).frobeniusNorm() == .infinity)
        // Nine million Float squares: a running Float sum drifts by about 1e-3 here; the norm must not.
        let many = Matrix<Float>.random(rows: 3000, columns: 3000, seed: 7)
        let exact = many.elements.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(Double(many.frobeniusNorm()).isApproximatelyEqual(to: exact, relativeTolerance: 1e-6))
        var s = Matrix<Double>([[1, 2], [3, 4]])
        s.scaleColumns(by: [10, 100])
        #expect(s.elements == [10, 200, 30, 400])
        s.scaleRows(by: [1, 0.1])
        #expect(s.elements[2...] == [3, 40])
    }

    @Test("random(rows:columns:seed:) is reproducible, standard normal, and the same stream in Float and Double")
    func random() {
        let a = Matrix<Double>.random(rows: 200, columns: 100, seed: 42)
        #expect(a == Matrix<Double>.random(rows: 200, columns: 100, seed: 42))
        #expect(a != Matrix<Double>.random(rows: 200, columns: 100, seed: 43))
        let mean = a.elements.reduce(0, +) / Double(a.count)
        let variance = a.elements.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(a.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03)
        #expect(Matrix<Float>.random(rows: 200, columns: 100, seed: 42) == a.converted(to: Float.self))
        // The first values are pinned so that the stream never changes silently.
        var g = SeededGenerator(seed: 0)
        #expect(g.next() == 0x99EC_5F36_CB75_F2B4)
    }
}

extension FloatingPoint {
    func isApproximatelyEqual(to other: Self, relativeTolerance: Self) -> Bool {
        abs(self - other) <= relativeTolerance * Swift.max(abs(self), abs(other))
    }
}
