#pragma once

#include "core/domain/Measurement.h"
#include "core/imaging/PlaneView.h"
#include "core/imaging/SliceRenderer.h"
#include "core/imaging/ViewTransform.h"
#include "core/imaging/Volume.h"
#include "core/imaging/WindowPresets.h"

#include <QImage>
#include <QPointer>
#include <QWidget>

#include <memory>
#include <optional>
#include <vector>

class QTimer;

namespace radiolens {

class MeasurementListModel;

/// A saliency map to draw over one native slice: values in [0, 1] in the slice's own pixel
/// geometry (width x height, row-major), with what it explains.
struct SaliencyOverlay {
    int slice = 0;
    int width = 0;
    int height = 0;
    std::vector<float> values;
    QString title; ///< "Grad-CAM: nodule"
    QString note;  ///< e.g. the faithfulness figures; may be empty
};

/// Colour scales for saliency overlays.
enum class SaliencyColours { Jet, Hot, Viridis };

/// One image viewport: a plane of a volume (native slices, or axial / coronal / sagittal
/// reformats) with the interactions a radiologist expects.
///
/// Mouse: wheel scrolls slices, Ctrl+wheel zooms at the cursor, right-drag sets the window
/// (horizontal: width, vertical: level, kWindowPerPixel units per pixel), middle-drag pans; the
/// left button does what the tool says: pan (or move the crosshair in MPR), or draw a distance,
/// angle, rectangle or ellipse. Keys: arrows / Page Up / Page Down / Home / End scroll, 1-9
/// window presets, 0 the file's window, I invert, F fit, = one to one.
///
/// Shows the slice in true proportions, orientation letters from the direction cosines, a scale
/// bar in mm, corner texts (patient, study, series, slice and position, window, zoom) that can be
/// hidden, the crosshair in MPR, and the measurements of its series that lie on the slice.
/// Slices that have not arrived (progressive loading) say so. GUI thread only.
class Viewport : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Navigate, Distance, Angle, Rectangle, Ellipse };

    /// Window units per screen pixel of right-drag.
    static constexpr double kWindowPerPixel = 2.0;

    explicit Viewport(QWidget* parent = nullptr);
    ~Viewport() override;

    // ---- what is shown
    /// Shows `volume` (under request `key`) at the middle slice of the current plane.
    /// `complete`: every slice is decoded already.
    void setVolume(std::shared_ptr<const Volume> volume, bool complete, const QString& key = {});
    void clear();
    const std::shared_ptr<const Volume>& volume() const { return m_volume; }
    QString key() const { return m_key; }
    void markSliceReady(int nativeSlice);
    void markSliceFailed(int nativeSlice, const QString& reason);
    void markAllSlicesReady();
    /// Every slice of the volume is decoded.
    bool isComplete() const { return m_volume && m_readyCount == m_ready.size(); }

    // ---- plane and slice
    void setPlane(PlaneKind plane);
    PlaneKind plane() const { return m_mapping.kind; }
    const PlaneMapping& mapping() const { return m_mapping; }
    int currentSlice() const { return m_slice; }
    void setCurrentSlice(int s);
    int sliceCount() const { return m_volume ? int(m_mapping.depth) : 0; }
    /// True when slice `s` of the current plane can be shown (every native slice it needs has
    /// arrived, none failed).
    bool isSliceReady(int s) const;
    /// Position of slice `s` along the plane's normal, mm.
    double slicePosition(int s) const;

    // ---- grey scale
    DisplayWindow window() const { return m_window; }
    void setWindow(const DisplayWindow& window);
    /// Presets for this volume (CT table, or the file's windows then Automatic).
    std::vector<NamedWindow> presets() const;
    /// Applies preset `index` (0-based) of presets(); false when there is none.
    bool applyPreset(int index);
    /// The file's first window (or automatic).
    void resetWindow();
    /// Inverted display, on top of MONOCHROME1 (which is always shown inverted).
    bool inverted() const { return m_inverted; }
    void setInverted(bool inverted);

    // ---- zoom, pan, rotation
    const ViewTransform& transform() const { return m_transform; }
    void fit();
    void oneToOne();
    void zoomBy(double factor);
    void panBy(double dx, double dy);
    void rotate(int quarters);
    void flipHorizontal();
    void flipVertical();

    // ---- overlays
    bool overlaysVisible() const { return m_overlays; }
    void setOverlaysVisible(bool visible);

    // ---- AI saliency overlay (native plane only)
    /// Shows `overlay` on its slice; null removes it.
    void setSaliency(std::shared_ptr<const SaliencyOverlay> overlay);
    const std::shared_ptr<const SaliencyOverlay>& saliency() const { return m_saliency; }
    /// Shown or hidden (key S toggles); a hidden overlay is kept.
    void setSaliencyVisible(bool visible);
    bool saliencyVisible() const { return m_saliencyVisible; }
    /// Colour scale; opacity 0..1 of the colours; values below `threshold` (0..1) are not drawn.
    void setSaliencyStyle(SaliencyColours colours, double opacity, double threshold);
    SaliencyColours saliencyColours() const { return m_saliencyColours; }
    double saliencyOpacity() const { return m_saliencyOpacity; }
    double saliencyThreshold() const { return m_saliencyThreshold; }
    /// The overlay is drawn on the slice shown now.
    bool saliencyShown() const;
    /// The colour of map value `v` (0..1) in `colours`, opaque.
    static QRgb saliencyColour(SaliencyColours colours, double v);
    /// The shown slice at its own pixel size, in the current window, with the saliency overlay
    /// blended as drawn (colours, opacity, threshold): what a Secondary Capture of the reading
    /// holds. Empty (width 0) when no overlay is shown.
    RenderedSlice saliencyCapture();

    // ---- crosshair (MPR)
    void setCrosshairEnabled(bool enabled);
    bool crosshairEnabled() const { return m_crosshairEnabled; }
    /// Puts the crosshair at `point` (LPS mm) and, if `moveSlice`, shows the slice through it.
    void setCrosshair(const Vec3& point, bool moveSlice);
    std::optional<Vec3> crosshair() const { return m_crosshair; }

    // ---- tools and measurements
    void setTool(Tool tool);
    Tool tool() const { return m_tool; }
    void setMeasurementModel(MeasurementListModel* model);
    MeasurementListModel* measurementModel() const;
    /// The measurement selected in the list, highlighted when it lies on the slice.
    void setSelectedMeasurement(std::int64_t id);

    // ---- coordinates (also for tests)
    QPointF imageToWidget(const QPointF& image) const;
    QPointF widgetToImage(const QPointF& widget) const;
    /// Where patient point `p` (LPS mm) appears on this viewport (its in-plane projection).
    QPointF patientToWidget(const Vec3& p) const;
    /// Patient point under widget position `w` on the current slice.
    Vec3 widgetToPatient(const QPointF& w) const;
    /// Text of the value under widget position `w` ("123 HU at (L 10.0, P 20.5, H 3.0) mm").
    QString readout(const QPointF& w) const;

Q_SIGNALS:
    void sliceChanged(int s);
    void windowChanged(double center, double width);
    /// The user moved the crosshair here (LPS mm).
    void crosshairMoved(const radiolens::Vec3& point);
    /// The value and position under the cursor, for the status bar; empty when outside.
    void cursorReadout(const QString& text);
    /// The user pressed a mouse button here: this viewport becomes the active one.
    void activated();
    /// A measurement was drawn; the model has stored it.
    void measurementDrawn(const radiolens::Measurement& measurement);
    /// Zoom, pan, rotation or flips changed.
    void viewChanged();
    /// A frame was painted (for latency measurements).
    void painted();
    /// The user showed or hid the saliency overlay (key S).
    void saliencyVisibilityChanged(bool visible);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    void updateMapping(bool keepSlice);
    void invalidate();
    void render();
    void updateTransformSize();
    void drawOverlays(QPainter& painter);
    void drawMeasurements(QPainter& painter);
    void drawCrosshair(QPainter& painter);
    void drawScaleBar(QPainter& painter);
    void drawSaliency(QPainter& painter);
    /// Builds m_saliencyImage (one colour per map value) if needed.
    void prepareSaliencyImage();
    void drawSaliencyLegend(QPainter& painter);
    void finishDrawing();
    /// The measurement the tool would make of image points `points` on this slice.
    Measurement measurementFrom(const std::vector<QPointF>& points) const;

    std::shared_ptr<const Volume> m_volume;
    QString m_key;
    std::vector<bool> m_ready;     ///< per native slice
    std::vector<QString> m_failed; ///< per native slice: why it could not be decoded
    std::size_t m_readyCount = 0;
    PlaneMapping m_mapping;
    int m_slice = 0;
    DisplayWindow m_window;
    bool m_windowChosen = false;
    bool m_inverted = false;
    ViewTransform m_transform;
    bool m_overlays = true;
    bool m_crosshairEnabled = false;
    std::optional<Vec3> m_crosshair;
    Tool m_tool = Tool::Navigate;
    QPointer<MeasurementListModel> m_measurements;
    std::int64_t m_selected = 0;

    std::shared_ptr<const SaliencyOverlay> m_saliency;
    bool m_saliencyVisible = true;
    SaliencyColours m_saliencyColours = SaliencyColours::Jet;
    double m_saliencyOpacity = 0.5;
    double m_saliencyThreshold = 0.2;
    QImage m_saliencyImage; ///< the overlay in colour, rebuilt when it or its style changes

    QImage m_image;          ///< the current slice through the window, at image resolution
    bool m_hasImage = false; ///< m_image holds the current slice (the buffer is reused)
    bool m_imageValid = false;
    QTimer* m_refresh = nullptr; ///< coalesces repaints of reformats while slices arrive

    // Interaction state.
    enum class Drag { None, Window, Pan, Crosshair, Draw };
    Drag m_drag = Drag::None;
    QPointF m_dragStart;
    DisplayWindow m_dragWindow;
    std::vector<QPointF> m_draft; ///< image points of the measurement being drawn
    QPointF m_hover;              ///< last image point under the mouse while drawing
};

} // namespace radiolens
