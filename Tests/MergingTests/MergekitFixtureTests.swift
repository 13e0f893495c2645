import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import Merging

/// A JSON value of the fixture's parameters.
enum JSONValue: Decodable, Sendable, Equatable {
    case number(Double), bool(Bool), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let s = try? c.decode(String.self) { self = .string(s) } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var double: Double? { if case .number(let x) = self { return x } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var perModel: PerModel? {
        switch self {
        case .number(let x): return .all(x)
        case .array(let a): return .each(a.compactMap(\.double))
        default: return nil
        }
    }
}

/// Tests/Fixtures/merge_reference.json, written by scripts/make_merge_fixtures.py.
struct MergeFixture: Decodable, Sendable {
    struct Generator: Decodable, Sendable {
        var seed: UInt64, tensor: String, model: Int, key: String, uniforms: [Double]
    }
    struct Tensor: Decodable, Sendable {
        var shape: [Int], base: [Double], models: [[Double]]
    }
    struct Case: Decodable, Sendable {
        var name: String, method: String, parameters: [String: JSONValue], models: [Int], base: Bool
        var outputs: [String: [Double]]
        var masks: [String: [String?]]
    }
    var generator: Generator
    var tensors: [String: Tensor]
    var cases: [Case]

    static let shared: MergeFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/merge_reference.json")
        do { return try JSONDecoder().decode(MergeFixture.self, from: Data(contentsOf: url)) } catch { fatalError("\(url.path): \(error)") }
    }()
}

/// Runs one fixture case on one tensor in scalar type T; returns the output and,
/// for the task-arithmetic family, the keep masks as "0101…" strings.
func runFixtureCase<T: Scalar>(_ c: MergeFixture.Case, tensor name: String, _ tensor: MergeFixture.Tensor, as _: T.Type) throws -> (output: [T], masks: [String?]?) {
    let p = c.parameters
    let base = tensor.base.map { T($0) }
    let models = c.models.map { tensor.models[$0].map { T($0) } }
    switch c.method {
    case let m where GeneralizedTaskArithmetic.Method(rawValue: m) != nil:
        var merge = GeneralizedTaskArithmetic(
            GeneralizedTaskArithmetic.Method(rawValue: m)!, weight: p["weight"]?.perModel ?? 1, density: p["density"]?.perModel ?? 1,
            gamma: p["gamma"]?.perModel ?? 0.01, epsilon: p["epsilon"]?.perModel ?? 0.15, normalize: p["normalize"]?.bool,
            rescale: p["rescale"]?.string.map { GeneralizedTaskArithmetic.Rescale(rawValue: $0)! }, lambda: p["lambda"]?.double ?? 1,
            seed: UInt64(p["seed"]?.double ?? 0), emptyWhenNoOutliers: p["empty_when_no_outliers"]?.bool ?? false)
        if let consensus = p["consensus"]?.string { merge.consensus = GeneralizedTaskArithmetic.Consensus(rawValue: consensus)! }
        let output = try merge.merge(models, base: base, shape: tensor.shape, name: name)
        let masks = try merge.sparsifiedDeltas(models, base: base, shape: tensor.shape, name: name).masks
        return (output, masks.map { $0.map { String($0.keep.map { $0 ? "1" : "0" }) } })
    case "slerp":
        return (try Slerp(t: p["t"]!.double!).merge(models[0], base: base, name: name), nil)
    case "nuslerp":
        let merge = NuSlerp(weights: p["weight"]?.perModel.flatMap { if case .each(let w) = $0 { w } else { nil } },
                            flatten: p["nuslerp_flatten"]?.bool ?? true, rowWise: p["nuslerp_row_wise"]?.bool ?? false)
        return (try merge.merge(models, base: c.base ? base : nil, shape: tensor.shape, name: name), nil)
    case "model_stock":
        return (try ModelStock(filterWise: p["filter_wise"]?.bool ?? false).merge(models, base: base, shape: tensor.shape, name: name), nil)
    case "karcher":
        return (try Karcher(maxIter: Int(p["max_iter"]?.double ?? 10), tol: p["tol"]?.double ?? 1e-5).merge(models, name: name), nil)
    case "sce":
        return (try SCE(selectTopK: p["select_topk"]?.double ?? 1).merge(models, base: base, name: name), nil)
    case "nearswap":
        return (try NearSwap(t: p["t"]!.double!).merge(models[0], base: base, name: name), nil)
    case "passthrough":
        return (try Passthrough(scale: p["scale"]?.double).merge([models[0]], name: name), nil)
    default:
        Issue.record("unknown method \(c.method) in the fixture")
        return ([], nil)
    }
}

@Suite("mergekit methods against the numpy reference (scripts/mergekit_reference.py)")
struct MergekitFixtureTests {
    let fixture = MergeFixture.shared

    @Test("the drop stream equals the reference bit for bit") func generator() {
        let g = fixture.generator
        #expect(DropRandomness.key(seed: g.seed, tensor: g.tensor, model: g.model) == UInt64(g.key.dropFirst(2), radix: 16))
        #expect(DropRandomness.uniforms(count: g.uniforms.count, seed: g.seed, tensor: g.tensor, model: g.model) == g.uniforms)
        // The stream is keyed by every part.
        let u = DropRandomness.uniforms(count: 4, seed: g.seed, tensor: g.tensor, model: g.model)
        #expect(u != DropRandomness.uniforms(count: 4, seed: g.seed + 1, tensor: g.tensor, model: g.model))
        #expect(u != DropRandomness.uniforms(count: 4, seed: g.seed, tensor: g.tensor + "x", model: g.model))
        #expect(u != DropRandomness.uniforms(count: 4, seed: g.seed, tensor: g.tensor, model: g.model + 1))
    }

    @Test("inputs are float32 values, so Float and Double runs see the same numbers") func inputs() {
        #expect(fixture.tensors.count == 3 && fixture.cases.count >= 26)
        for (_, t) in fixture.tensors {
            #expect(t.shape.reduce(1, *) == t.base.count)
            for values in [t.base] + t.models { #expect(values.allSatisfy { Double(Float($0)) == $0 }) }
        }
    }

    static func check<T: Scalar>(_: T.Type, tolerance: Double) throws {
        let fixture = MergeFixture.shared
        for c in fixture.cases {
            for (name, tensor) in fixture.tensors.sorted(by: { $0.key < $1.key }) {
                let expected = try #require(c.outputs[name])
                let (output, masks) = try runFixtureCase(c, tensor: name, tensor, as: T.self)
                let worst = zip(output, expected).map { abs($0.doubleValue - $1) / Swift.max(1, abs($1)) }.max() ?? 0
                #expect(output.count == expected.count && worst <= tolerance, "\(c.name) on \(name): relative error \(worst)")
                if let reference = c.masks[name] {
                    #expect(masks == reference, "\(c.name) on \(name): keep masks differ")
                } else if let masks {
                    #expect(masks.allSatisfy { $0 == nil }, "\(c.name) on \(name): masks where the reference drops nothing")
                }
            }
        }
    }

    @Test("every case equals the reference to storage rounding", arguments: ScalarKind.allCases)
    func cases(kind: ScalarKind) throws {
        switch kind {
        case .double: try Self.check(Double.self, tolerance: 1e-12)
        case .float: try Self.check(Float.self, tolerance: 1e-6)
        }
    }

    @Test("the reference's task_arithmetic case equals TaskArithmetic") func taskArithmetic() throws {
        let c = try #require(fixture.cases.first { $0.name == "task_arithmetic" })
        for (name, t) in fixture.tensors {
            let out = try TaskArithmetic(weights: [1, 0.5, -0.3], lambda: 0.8).merge(c.models.map { t.models[$0] }, base: t.base)
            #expect(close(out, c.outputs[name]!, 1e-12))
        }
    }

    @Test("DARE's keep mask, drawn in chunks across threads, is uᵢ < p of the stored stream")
    func keepMaskMatchesUniforms() {
        for count in [0, 1, 2, 1000, 65_536, 65_537, 300_007] {
            for p in [0.0, 0.3, 0.5, 1.0] {
                let u = DropRandomness.uniforms(count: count, seed: 5, tensor: "w", model: 2)
                let mask = DropRandomness.keepMask(count: count, probability: p, seed: 5, tensor: "w", model: 2)
                #expect(mask == u.map { $0 < p }, "count \(count), p \(p)")
            }
        }
    }
}
