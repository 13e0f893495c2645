import LinearAlgebra
import Compression
import LowRank

let w = Matrix<Float>.random(rows: 4096, columns: 1024, seed: 0)   // row-major, like numpy
let svd = try w.svd()                          // u, singularValues (descending), vt
let top = try w.randomizedSVD(rank: 64)        // Halko–Martinsson–Tropp, seeded
let eig = try w.gram().symmetricEigen()        // values ascending, vectors in columns
print(svd.singularValues[0], top.singularValues[0], eig.values.last!)

let compressed = try RoundToNearest(bits: 4).quantize(w)          // from Compression
let c = Matrix<Float>.random(rows: 2048, columns: 1024, seed: 1).gram().converted(to: Double.self)
let result = try EoRA(rank: 64).compensate(original: w, compressed: compressed, covariance: c)
print(result.factors.a.rows, result.factors.b.rows, result.relativeError)   // A [r, in], B [out, r]

let same = try Backend.withCurrent(.native) { try w.randomizedSVD(rank: 64) }   // the same calls, in pure Swift
print(same.singularValues[0])
