package collector

// CompressLZBase64 lets the HTTP tests build lz64 payloads.
var CompressLZBase64 = compressLZBase64
