#pragma once

#include "core/imaging/SliceRenderer.h"
#include "core/imaging/Volume.h"

#include <QImage>
#include <QWidget>

#include <memory>
#include <vector>

namespace radiolens {

/// Shows one slice of a volume at a time, in true proportions (pixel spacing), with
/// orientation letters and the slice number, position (mm) and window in the corners.
///
/// Wheel, arrow keys, Page Up/Down, Home/End scroll through slices; dragging with the right
/// button changes the window (horizontal: width, vertical: centre). Slices that have not arrived
/// yet (progressive loading) show "loading". GUI thread only.
class SliceView : public QWidget {
    Q_OBJECT
public:
    explicit SliceView(QWidget* parent = nullptr);

    /// Shows `volume`, opening at its middle slice; `complete` says whether every slice is
    /// already decoded (otherwise call markSliceReady as they arrive).
    void setVolume(std::shared_ptr<const Volume> volume, bool complete);
    void markSliceReady(int k);
    /// Slice `k` could not be decoded: it is shown as a message, never as an image.
    void markSliceFailed(int k, const QString& reason);
    void markAllSlicesReady();
    const std::shared_ptr<const Volume>& volume() const { return m_volume; }

    int currentSlice() const { return m_slice; }
    void setCurrentSlice(int k);
    int sliceCount() const;
    bool isSliceReady(int k) const;
    DisplayWindow window() const { return m_window; }
    void setWindow(const DisplayWindow& window);
    /// Screen rectangle the image occupies (for tests and overlays).
    QRectF imageRect() const;

    /// Window units per screen pixel of right-drag: width changes by this times the horizontal
    /// motion, centre by this times the vertical motion (down raises the centre).
    static constexpr double kWindowPerPixel = 2.0;

Q_SIGNALS:
    void sliceChanged(int k);
    void windowChanged(double center, double width);

protected:
    void paintEvent(QPaintEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;

private:
    void render();

    std::shared_ptr<const Volume> m_volume;
    std::vector<bool> m_ready;
    std::vector<QString> m_failures; ///< per slice: why it could not be decoded, or empty
    int m_slice = 0;
    DisplayWindow m_window;
    bool m_windowChosen = false;
    QImage m_image;
    bool m_dragging = false;
    QPointF m_dragStart;
    DisplayWindow m_dragWindow;
};

} // namespace radiolens
