/// The Rankwise release this library belongs to (also written into the
/// provenance metadata of every file the tools produce).
public let rankwiseVersion = "0.1.0"
