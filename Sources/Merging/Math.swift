#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The C library's elementary functions under names that do not clash with
// parameters called `t`, `sin`… (the same libm numpy calls for float64).
@inline(__always) func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func _acos(_ x: Double) -> Double { acos(x) }
