import LinearAlgebra

/// A low-rank update s·B·A in PEFT's layout.
///
/// For a linear layer W `[out, in]`: `a` is A `[r, in]`, `b` is B `[out, r]`
/// and the update is ΔW ≈ s·B·A, deployed as y = W x + s·B(A x).
public struct LowRankFactors<Element: Scalar>: Sendable, Equatable {
    /// A, r×in.
    public var a: Matrix<Element>
    /// B, out×r.
    public var b: Matrix<Element>
    /// s, the PEFT scale lora_alpha / r (or / √r with rsLoRA). 1 for
    /// compensation and extraction (lora_alpha = r).
    public var scale: Element

    /// Factors A `[r, in]` and B `[out, r]` with scale s (default 1).
    /// Precondition: A's rows equal B's columns.
    public init(a: Matrix<Element>, b: Matrix<Element>, scale: Element = 1) {
        precondition(a.rows == b.columns, "LowRankFactors: A is \(a.rows)×\(a.columns) but B is \(b.rows)×\(b.columns)")
        self.a = a
        self.b = b
        self.scale = scale
    }

    /// The rank r (rows of A).
    public var rank: Int { a.rows }

    /// The update s·B·A, out×in.
    public func product() -> Matrix<Element> {
        scale == 1 ? b * a : scale * (b * a)
    }

    /// Parameters held: r·(in + out).
    public var parameterCount: Int { a.count + b.count }

    /// All-zero factors of rank r for a layer `[out, in]`.
    public static func zeros(rank: Int, out: Int, in inFeatures: Int) -> LowRankFactors {
        LowRankFactors(a: .zeros(rows: rank, columns: inFeatures), b: .zeros(rows: out, columns: rank))
    }
}
