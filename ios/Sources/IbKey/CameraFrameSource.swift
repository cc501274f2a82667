import AVFoundation
import CoreMedia
import CoreVideo
import Foundation

/// What a `CameraFrameSource` reports, on its `delegateQueue` (the main queue by default).
public protocol CameraFrameSourceDelegate: AnyObject {
    /// An activation code came into view: pass `payload` to `IbKey.activateFromQr`. Reported
    /// once while the code stays in view.
    func cameraFrameSource(_ source: CameraFrameSource, didScanPayload payload: String)
    /// A frame held a QR code that is not an activation code (reported for every such frame:
    /// throttle the hint you show).
    func cameraFrameSourceDidSeeForeignCode(_ source: CameraFrameSource)
    /// The core could not take a frame; `error.code()` is for diagnostics.
    func cameraFrameSource(_ source: CameraFrameSource, didFail error: ScanError)
}

public extension CameraFrameSourceDelegate {
    func cameraFrameSourceDidSeeForeignCode(_ source: CameraFrameSource) {}
    func cameraFrameSource(_ source: CameraFrameSource, didFail error: ScanError) {}
}

/// Why `CameraFrameSource.configure` failed.
public enum CameraFrameSourceError: Error {
    /// No camera at the asked position.
    case noCamera
    /// The capture session would not take the camera input or the video output.
    case cannotConfigureSession
}

/// Reads activation QR codes from the camera: an `AVCaptureSession` whose
/// `AVCaptureVideoDataOutput` delivers bi-planar full-range YUV frames
/// (`kCVPixelFormatType_420YpCbCr8BiPlanarFullRange`); each frame's luma plane (plane 0: base
/// address, bytes per row, width, height) goes to the core's `Scanner` in place, without a
/// copy, while the pixel buffer is locked.
///
/// ```swift
/// let source = CameraFrameSource()
/// source.delegate = self
/// try source.configure()
/// previewLayer.session = source.session
/// source.start()
/// ```
///
/// Frames are scanned on a private serial queue; late frames are dropped. Rotation does not
/// matter: the scanner reads codes at any angle. The app needs `NSCameraUsageDescription` and
/// camera permission (`AVCaptureDevice.requestAccess(for: .video)`) before `start()`.
public final class CameraFrameSource: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    /// The capture session, for a preview layer.
    public let session = AVCaptureSession()
    /// The core scanner the frames go to (`reset()` it to report a code still in view again).
    public let scanner: Scanner
    /// Receives the results.
    public weak var delegate: CameraFrameSourceDelegate?
    /// Where the delegate is called.
    public var delegateQueue: DispatchQueue = .main

    private let output = AVCaptureVideoDataOutput()
    private let frameQueue = DispatchQueue(label: "io.ibkey.camera.frames")
    private let sessionQueue = DispatchQueue(label: "io.ibkey.camera.session")

    public init(scanner: Scanner = Scanner()) {
        self.scanner = scanner
        super.init()
    }

    /// Adds the camera at `position` and the YUV video output to the session, at 1080p where
    /// the camera offers it.
    public func configure(position: AVCaptureDevice.Position = .back) throws {
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        if session.canSetSessionPreset(.hd1920x1080) {
            session.sessionPreset = .hd1920x1080
        }
        guard let camera = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: position) else {
            throw CameraFrameSourceError.noCamera
        }
        let input = try AVCaptureDeviceInput(device: camera)
        guard session.canAddInput(input) else { throw CameraFrameSourceError.cannotConfigureSession }
        session.addInput(input)

        output.videoSettings = [
            kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        ]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: frameQueue)
        guard session.canAddOutput(output) else { throw CameraFrameSourceError.cannotConfigureSession }
        session.addOutput(output)
    }

    /// Starts the camera (off the main thread: `startRunning` blocks).
    public func start() {
        sessionQueue.async { [session] in
            if !session.isRunning { session.startRunning() }
        }
    }

    /// Stops the camera.
    public func stop() {
        sessionQueue.async { [session] in
            if session.isRunning { session.stopRunning() }
        }
    }

    public func captureOutput(
        _ output: AVCaptureOutput,
        didOutput sampleBuffer: CMSampleBuffer,
        from connection: AVCaptureConnection
    ) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let format = CVPixelBufferGetPixelFormatType(pixelBuffer)
        // Both bi-planar YUV formats have the 8-bit luma plane first.
        guard format == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange
            || format == kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange
        else { return }

        guard CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly) == kCVReturnSuccess else { return }
        let result: Result<FrameResult, ScanError>
        do {
            defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
            guard let base = CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, 0) else { return }
            let width = CVPixelBufferGetWidthOfPlane(pixelBuffer, 0)
            let height = CVPixelBufferGetHeightOfPlane(pixelBuffer, 0)
            let bytesPerRow = CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, 0)
            // A view of the locked plane: no copy, and it does not outlive the lock.
            let luma = Data(bytesNoCopy: base, count: bytesPerRow * height, deallocator: .none)
            do {
                result = .success(try scanner.scanFrame(
                    width: UInt32(clamping: width),
                    height: UInt32(clamping: height),
                    rowStride: UInt32(clamping: bytesPerRow),
                    luma: luma
                ))
            } catch let error as ScanError {
                result = .failure(error)
            } catch {
                return
            }
        }

        switch result {
        case let .success(.payload(text)):
            report { $1.cameraFrameSource($0, didScanPayload: text) }
        case .success(.foreignCode):
            report { $1.cameraFrameSourceDidSeeForeignCode($0) }
        case .success(.sameAsBefore), .success(.noCode):
            break
        case let .failure(error):
            report { $1.cameraFrameSource($0, didFail: error) }
        }
    }

    private func report(_ call: @escaping (CameraFrameSource, CameraFrameSourceDelegate) -> Void) {
        delegateQueue.async { [weak self] in
            guard let self, let delegate = self.delegate else { return }
            call(self, delegate)
        }
    }
}
