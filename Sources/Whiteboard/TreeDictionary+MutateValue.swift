import HashTreeCollections

extension TreeDictionary {
    /// Calls `body` with the value for `key`, in place, if there is one.
    ///
    /// Use this instead of `self[key]?.mutate()` or `updateValue(forKey:with:)`.
    /// Those go through `TreeDictionary`'s `_modify` accessor, which in
    /// swift-collections 1.6.0 asserts against the node its path recorded
    /// before making that node unique. In a debug build, when the only other
    /// owner of the old node is a copy on another thread that is released at
    /// that instant, the assert reads freed memory: the terminal client
    /// crashed that way (`ConcurrentBoardCopyTests` reproduces it under
    /// AddressSanitizer). The defaulted update used here descends through the
    /// nodes it has made unique, and the value stays uniquely referenced while
    /// `body` runs, so copy-on-write inside it costs nothing extra.
    ///
    /// - Returns: What `body` returned, or nil when `key` is absent.
    /// - Complexity: Two lookups of `key`, plus copying at most O(log n)
    ///   nodes shared with other copies.
    @discardableResult
    mutating func mutateValue<Result>(forKey key: Key, _ body: (inout Value) -> Result) -> Result? {
        guard index(forKey: key) != nil else { return nil }
        return updateValue(
            forKey: key, default: { () -> Value in preconditionFailure("\(key) was just found") }(), with: body)
    }
}
