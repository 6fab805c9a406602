// Compression module
