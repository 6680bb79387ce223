#pragma once

#include <QFrame>
#include <QString>

class QLabel;
class QScrollBar;
class QTimer;

namespace radiolens {

class Viewport;

/// A viewport with its slice slider and cine player, the unit of a layout. Accepts a series
/// dragged from the study browser. GUI thread only.
class ViewportFrame : public QFrame {
    Q_OBJECT
public:
    /// MIME type of a series dragged from the study browser: "seriesUid\nimagePath" (UTF-8).
    static const char* const kSeriesMimeType;

    explicit ViewportFrame(QWidget* parent = nullptr);

    Viewport* viewport() const { return m_viewport; }
    void setActive(bool active);
    bool isActive() const { return m_active; }

    /// Cine: plays the slices in a loop at `fps` frames per second.
    void setCinePlaying(bool playing);
    bool isCinePlaying() const;
    void setCineFps(double fps);
    double cineFps() const { return m_fps; }

Q_SIGNALS:
    void activated();
    void seriesDropped(const QString& seriesUid, const QString& imagePath);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void updateSlider();

    Viewport* m_viewport = nullptr;
    QScrollBar* m_slider = nullptr;
    QTimer* m_cine = nullptr;
    double m_fps = 10.0;
    bool m_active = false;
};

} // namespace radiolens
