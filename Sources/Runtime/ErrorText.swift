import Foundation
import WeightFormats

/// Errors as a user reads them: the reason of our own errors, the system's words for POSIX and Cocoa
/// errors, never `Error Domain=NSPOSIXErrorDomain Code=2 "…"`.
public enum ErrorText {
    public static func plain(_ error: any Error) -> String {
        switch error {
        case let e as ModelError: return e.reason
        case let e as CustomStringConvertible where !(error is NSError) && !(e is any CustomNSError): return e.description
        default: break
        }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(ns.code)) {
            return String(cString: strerror(code.rawValue))
        }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
