#include "ui/Viewport.h"

#include "core/tasks/MeasurementListModel.h"

#include <QDate>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QTimer>
#include <QWheelEvent>

#include <algorithm>
#include <cstring>
#include <cmath>

namespace radiolens {

namespace {

QString letters(const Vec3& v) {
    return QString::fromStdString(orientationLetters(v));
}

QString personName(const std::string& dicom) {
    QStringList parts = QString::fromStdString(dicom).split(QLatin1Char('^'));
    while (!parts.isEmpty() && parts.back().trimmed().isEmpty()) {
        parts.removeLast();
    }
    if (parts.isEmpty()) {
        return {};
    }
    const QString family = parts.takeFirst().trimmed().toUpper();
    return parts.isEmpty() ? family
                           : family + QStringLiteral(", ") + parts.join(QLatin1Char(' ')).trimmed();
}

QString planeName(PlaneKind kind) {
    switch (kind) {
    case PlaneKind::Native:
        return Viewport::tr("Native");
    case PlaneKind::Axial:
        return Viewport::tr("Axial");
    case PlaneKind::Coronal:
        return Viewport::tr("Coronal");
    case PlaneKind::Sagittal:
        return Viewport::tr("Sagittal");
    }
    return {};
}

QString dicomDate(const std::string& date) {
    const QDate d = QDate::fromString(QString::fromStdString(date), QStringLiteral("yyyyMMdd"));
    return d.isValid() ? d.toString(Qt::ISODate) : QString::fromStdString(date);
}

/// Draws `text` with a dark halo so it reads on any image.
void drawText(QPainter& painter, const QRectF& rect, int flags, const QString& text) {
    painter.save();
    painter.setPen(QColor(0, 0, 0, 200));
    for (const QPointF d : {QPointF(1, 1), QPointF(-1, 1), QPointF(1, -1), QPointF(-1, -1)}) {
        painter.drawText(rect.translated(d), flags, text);
    }
    painter.setPen(QColor(235, 235, 200));
    painter.drawText(rect, flags, text);
    painter.restore();
}

/// Each line of `lines` elided on the right to `width` pixels, so corner texts never run into
/// the orientation letters in the middle of the edges however long a description is.
QString elidedLines(const QStringList& lines, const QFontMetrics& metrics, int width) {
    QStringList out;
    for (const QString& line : lines) {
        out << metrics.elidedText(line, Qt::ElideRight, std::max(width, 0));
    }
    return out.join(QLatin1Char('\n'));
}

/// A "nice" length for the scale bar: 1, 2 or 5 times a power of ten, at most `limit` mm.
double niceLength(double limit) {
    const double power = std::pow(10.0, std::floor(std::log10(std::max(limit, 1e-6))));
    for (double m : {5.0, 2.0, 1.0}) {
        if (m * power <= limit) {
            return m * power;
        }
    }
    return power;
}

} // namespace

Viewport::Viewport(QWidget* parent)
    : QWidget(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
    setMinimumSize(160, 160);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setContextMenuPolicy(Qt::PreventContextMenu); // the right button sets the window
    m_refresh = new QTimer(this);
    m_refresh->setSingleShot(true);
    m_refresh->setInterval(40);
    connect(m_refresh, &QTimer::timeout, this, [this] { invalidate(); });
}

Viewport::~Viewport() = default;

// ---- content ------------------------------------------------------------------------------------

void Viewport::setVolume(std::shared_ptr<const Volume> volume, bool complete, const QString& key) {
    const bool sameSeries = m_volume && volume &&
                            m_volume->seriesInstanceUid == volume->seriesInstanceUid &&
                            m_volume->size() == volume->size();
    if (!sameSeries) {
        m_saliency.reset(); // a map belongs to its image
        m_saliencyImage = QImage();
    }
    m_volume = std::move(volume);
    m_key = key;
    const std::size_t n = m_volume ? m_volume->size()[2] : 0;
    m_ready.assign(n, complete);
    m_failed.assign(n, QString());
    m_readyCount = complete ? n : 0;
    m_draft.clear();
    if (!sameSeries) {
        m_windowChosen = false;
        m_crosshair.reset();
        m_transform = ViewTransform{};
    }
    updateMapping(sameSeries);
    if (!m_windowChosen && m_volume && !m_volume->windows.empty()) {
        // The file's window applies at once; an automatic one waits for decoded pixels.
        m_window = {m_volume->windows.front().center, m_volume->windows.front().width};
        m_windowChosen = true;
        Q_EMIT windowChanged(m_window.center, m_window.width);
    }
    if (m_measurements && m_measurements->volume() != m_volume) {
        m_measurements->setVolume(m_volume);
    }
    invalidate();
    Q_EMIT sliceChanged(m_slice);
}

void Viewport::clear() {
    setVolume(nullptr, true);
}

void Viewport::markSliceReady(int k) {
    if (k < 0 || k >= int(m_ready.size()) || m_ready[std::size_t(k)]) {
        return;
    }
    m_ready[std::size_t(k)] = true;
    ++m_readyCount;
    if (m_mapping.kind == PlaneKind::Native) {
        if (k == m_slice) {
            invalidate();
        }
    } else if (!m_refresh->isActive()) {
        m_refresh->start(); // reformats show slices as they arrive, a few times a second
    }
}

void Viewport::markSliceFailed(int k, const QString& reason) {
    if (k < 0 || k >= int(m_failed.size())) {
        return;
    }
    m_failed[std::size_t(k)] = reason;
    invalidate();
}

void Viewport::markAllSlicesReady() {
    std::fill(m_ready.begin(), m_ready.end(), true);
    m_readyCount = m_ready.size();
    invalidate();
}

// ---- plane and slice ----------------------------------------------------------------------------

void Viewport::updateMapping(bool keepSlice) {
    const int previous = m_slice;
    if (!m_volume) {
        m_mapping = PlaneMapping{};
        m_slice = 0;
        return;
    }
    m_mapping = planeMapping(*m_volume, m_mapping.kind);
    if (m_crosshair) {
        const auto at = m_mapping.fromPatient(*m_volume, *m_crosshair);
        m_slice = int(std::clamp<long>(std::lround(at[2]), 0, long(m_mapping.depth) - 1));
    } else {
        m_slice = keepSlice ? std::clamp(previous, 0, int(m_mapping.depth) - 1)
                            : int(m_mapping.depth) / 2;
    }
    updateTransformSize();
}

void Viewport::updateTransformSize() {
    m_transform.widgetWidth = std::max(1, width());
    m_transform.widgetHeight = std::max(1, height());
    m_transform.imageWidth = std::max<std::size_t>(1, m_mapping.width);
    m_transform.imageHeight = std::max<std::size_t>(1, m_mapping.height);
    m_transform.spacingX = m_mapping.spacingX;
    m_transform.spacingY = m_mapping.spacingY;
}

void Viewport::setPlane(PlaneKind plane) {
    if (plane == m_mapping.kind && m_volume) {
        return;
    }
    m_mapping.kind = plane;
    m_transform.fit();
    m_transform.rotation = 0;
    m_transform.flipHorizontal = m_transform.flipVertical = false;
    updateMapping(false);
    invalidate();
    Q_EMIT sliceChanged(m_slice);
}

void Viewport::setCurrentSlice(int s) {
    if (!m_volume) {
        return;
    }
    s = std::clamp(s, 0, sliceCount() - 1);
    if (s == m_slice) {
        return;
    }
    m_slice = s;
    if (m_crosshair) {
        // The crosshair follows the slice along this plane's normal.
        auto at = m_mapping.fromPatient(*m_volume, *m_crosshair);
        m_crosshair = m_mapping.toPatient(*m_volume, at[0], at[1], double(s));
    }
    invalidate();
    Q_EMIT sliceChanged(m_slice);
}

bool Viewport::isSliceReady(int s) const {
    if (!m_volume || s < 0 || s >= sliceCount()) {
        return false;
    }
    if (m_mapping.axis[2] == 2) {
        const std::size_t k = std::size_t(std::lround(m_mapping.toIndex(0, 0, double(s))[2]));
        return m_ready[k] && m_failed[k].isEmpty();
    }
    return m_readyCount == m_ready.size();
}

double Viewport::slicePosition(int s) const {
    if (!m_volume) {
        return 0.0;
    }
    const Vec3 normal = m_mapping.directionS(*m_volume);
    if (m_mapping.axis[2] == 2 && !m_volume->slicePositions.empty()) {
        // Native slices: the position stored in the file (exact for tilted stacks too).
        const std::size_t k = std::size_t(std::lround(m_mapping.toIndex(0, 0, double(s))[2]));
        return dot(m_volume->slicePositions[k], normal);
    }
    return dot(m_mapping.toPatient(*m_volume, 0, 0, double(s)), normal);
}

// ---- grey scale ---------------------------------------------------------------------------------

void Viewport::setWindow(const DisplayWindow& window) {
    m_window = window;
    m_window.width = std::max(1.0, m_window.width);
    m_windowChosen = true;
    invalidate();
    Q_EMIT windowChanged(m_window.center, m_window.width);
}

std::vector<NamedWindow> Viewport::presets() const {
    if (!m_volume) {
        return {};
    }
    const std::size_t k = std::min<std::size_t>(m_volume->size()[2] / 2, m_volume->size()[2] - 1);
    return windowPresetsFor(*m_volume, k);
}

bool Viewport::applyPreset(int index) {
    const auto list = presets();
    if (index < 0 || index >= int(list.size())) {
        return false;
    }
    setWindow({list[std::size_t(index)].center, list[std::size_t(index)].width});
    return true;
}

void Viewport::resetWindow() {
    if (!m_volume) {
        return;
    }
    const std::size_t k = m_volume->size()[2] / 2;
    setWindow(defaultWindow(*m_volume, std::min(k, m_volume->size()[2] - 1)));
}

void Viewport::setInverted(bool inverted) {
    m_inverted = inverted;
    invalidate();
}

// ---- zoom, pan, rotation
// --------------------------------------------------------------------------

void Viewport::fit() {
    m_transform.fit();
    update();
    Q_EMIT viewChanged();
}

void Viewport::oneToOne() {
    m_transform.panX = m_transform.panY = 0;
    m_transform.zoom = m_transform.oneToOneZoom();
    update();
    Q_EMIT viewChanged();
}

void Viewport::zoomBy(double factor) {
    m_transform.zoomAt(factor, {width() / 2.0, height() / 2.0});
    update();
    Q_EMIT viewChanged();
}

void Viewport::panBy(double dx, double dy) {
    m_transform.panX += dx;
    m_transform.panY += dy;
    update();
    Q_EMIT viewChanged();
}

void Viewport::rotate(int quarters) {
    m_transform.rotate(quarters);
    update();
    Q_EMIT viewChanged();
}

void Viewport::flipHorizontal() {
    m_transform.flipHorizontal = !m_transform.flipHorizontal;
    update();
    Q_EMIT viewChanged();
}

void Viewport::flipVertical() {
    m_transform.flipVertical = !m_transform.flipVertical;
    update();
    Q_EMIT viewChanged();
}

void Viewport::setOverlaysVisible(bool visible) {
    m_overlays = visible;
    update();
}

// ---- crosshair ----------------------------------------------------------------------------------

void Viewport::setCrosshairEnabled(bool enabled) {
    m_crosshairEnabled = enabled;
    if (enabled && !m_crosshair && m_volume) {
        m_crosshair = m_mapping.toPatient(*m_volume, (double(m_mapping.width) - 1) / 2.0,
                                          (double(m_mapping.height) - 1) / 2.0, double(m_slice));
    }
    if (!enabled) {
        m_crosshair.reset();
    }
    update();
}

void Viewport::setCrosshair(const Vec3& point, bool moveSlice) {
    m_crosshair = point;
    if (moveSlice && m_volume) {
        const auto at = m_mapping.fromPatient(*m_volume, point);
        const int s = int(std::clamp<long>(std::lround(at[2]), 0, long(m_mapping.depth) - 1));
        if (s != m_slice) {
            m_slice = s;
            invalidate();
            Q_EMIT sliceChanged(m_slice);
        }
    }
    update();
}

// ---- tools and measurements ---------------------------------------------------------------------

void Viewport::setTool(Tool tool) {
    m_tool = tool;
    m_draft.clear();
    m_drag = Drag::None;
    setCursor(tool == Tool::Navigate ? Qt::ArrowCursor : Qt::CrossCursor);
    update();
}

void Viewport::setMeasurementModel(MeasurementListModel* model) {
    if (m_measurements) {
        disconnect(m_measurements, nullptr, this, nullptr);
    }
    m_measurements = model;
    if (model) {
        const auto repaint = [this] {
            update();
        };
        connect(model, &QAbstractItemModel::rowsInserted, this, repaint);
        connect(model, &QAbstractItemModel::rowsRemoved, this, repaint);
        connect(model, &QAbstractItemModel::modelReset, this, repaint);
        if (m_volume && model->volume() != m_volume) {
            model->setVolume(m_volume);
        }
    }
    update();
}

MeasurementListModel* Viewport::measurementModel() const {
    return m_measurements.data();
}

void Viewport::setSelectedMeasurement(std::int64_t id) {
    m_selected = id;
    update();
}

Measurement Viewport::measurementFrom(const std::vector<QPointF>& points) const {
    Measurement m;
    m.kind = m_tool == Tool::Distance    ? MeasurementKind::Distance
             : m_tool == Tool::Angle     ? MeasurementKind::Angle
             : m_tool == Tool::Rectangle ? MeasurementKind::Rectangle
                                         : MeasurementKind::Ellipse;
    for (const QPointF& p : points) {
        m.points.push_back(m_mapping.toPatient(*m_volume, p.x(), p.y(), double(m_slice)));
    }
    m.axisU = m_mapping.directionX(*m_volume);
    m.axisV = m_mapping.directionY(*m_volume);
    return m;
}

void Viewport::finishDrawing() {
    if (!m_volume) {
        return;
    }
    Measurement m = measurementFrom(m_draft);
    m_draft.clear();
    // A click without a drag draws nothing.
    if (m.points.size() >= 2 && norm(m.points[1] - m.points[0]) < 1e-6 &&
        m.kind != MeasurementKind::Angle) {
        update();
        return;
    }
    if (m_measurements) {
        m.id = m_measurements->add(m);
        m_selected = m.id;
    }
    update();
    Q_EMIT measurementDrawn(m);
}

// ---- coordinates --------------------------------------------------------------------------------

QPointF Viewport::imageToWidget(const QPointF& image) const {
    const Point2 p = m_transform.toWidget({image.x(), image.y()});
    return {p.x, p.y};
}

QPointF Viewport::widgetToImage(const QPointF& widget) const {
    const Point2 p = m_transform.toImage({widget.x(), widget.y()});
    return {p.x, p.y};
}

QPointF Viewport::patientToWidget(const Vec3& point) const {
    if (!m_volume) {
        return {};
    }
    const auto at = m_mapping.fromPatient(*m_volume, point);
    return imageToWidget({at[0], at[1]});
}

Vec3 Viewport::widgetToPatient(const QPointF& widget) const {
    const QPointF image = widgetToImage(widget);
    return m_volume ? m_mapping.toPatient(*m_volume, image.x(), image.y(), double(m_slice))
                    : Vec3{};
}

QString Viewport::readout(const QPointF& widget) const {
    if (!m_volume || !isSliceReady(m_slice)) {
        return {};
    }
    const QPointF image = widgetToImage(widget);
    const long x = std::lround(image.x());
    const long y = std::lround(image.y());
    if (x < 0 || y < 0 || x >= long(m_mapping.width) || y >= long(m_mapping.height)) {
        return {};
    }
    const StridedImage plane = m_mapping.image(*m_volume, std::size_t(m_slice));
    QString value;
    if (plane.format.components == 3) {
        value = tr("RGB %1, %2, %3")
                    .arg(plane.value(std::size_t(x), std::size_t(y), 0))
                    .arg(plane.value(std::size_t(x), std::size_t(y), 1))
                    .arg(plane.value(std::size_t(x), std::size_t(y), 2));
    } else {
        const double v = plane.value(std::size_t(x), std::size_t(y));
        value = plane.format.isFloat() ? QString::number(v, 'f', 2) : QString::number(v, 'f', 0);
        if (!m_volume->units.empty()) {
            value += QLatin1Char(' ') + QString::fromStdString(m_volume->units);
        }
    }
    const Vec3 p = m_mapping.toPatient(*m_volume, double(x), double(y), double(m_slice));
    const auto axis = [](double v, char positive, char negative) {
        return QStringLiteral("%1 %2")
            .arg(QLatin1Char(v >= 0 ? positive : negative))
            .arg(std::abs(v), 0, 'f', 1);
    };
    return tr("%1   pixel (%2, %3)   %4, %5, %6 mm")
        .arg(value)
        .arg(x)
        .arg(y)
        .arg(axis(p.x, 'L', 'R'), axis(p.y, 'P', 'A'), axis(p.z, 'H', 'F'));
}

// ---- rendering ----------------------------------------------------------------------------------

void Viewport::invalidate() {
    m_imageValid = false;
    update();
}

void Viewport::render() {
    m_imageValid = true;
    m_hasImage = false;
    if (!m_volume || !isSliceReady(m_slice)) {
        // Reformats are shown while slices arrive; native slices only once decoded.
        if (!m_volume || m_mapping.axis[2] == 2 || m_readyCount == 0) {
            return;
        }
    }
    if (!m_windowChosen) {
        // The file's preset, or one fitted to the middle slice.
        const std::size_t k = std::size_t(std::lround(m_mapping.toIndex(0, 0, double(m_slice))[2]));
        m_window = defaultWindow(*m_volume, m_mapping.axis[2] == 2 ? k : m_volume->size()[2] / 2);
        m_windowChosen = true;
        Q_EMIT windowChanged(m_window.center, m_window.width);
    }
    const bool invert = (m_volume->photometric == Photometric::Monochrome1) != m_inverted;
    const StridedImage plane = m_mapping.image(*m_volume, std::size_t(m_slice));
    const QImage::Format format =
        plane.format.components == 3 ? QImage::Format_RGB888 : QImage::Format_Grayscale8;
    // The same buffer frame after frame: no allocation while scrolling.
    if (m_image.width() != int(plane.width) || m_image.height() != int(plane.height) ||
        m_image.format() != format) {
        m_image = QImage(int(plane.width), int(plane.height), format);
    }
    renderImageInto(plane, m_window, invert, m_image.bits(), std::size_t(m_image.bytesPerLine()));
    m_hasImage = true;
}

void Viewport::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    updateTransformSize();
}

void Viewport::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), Qt::black);
    if (!m_volume) {
        painter.setPen(QColor(200, 200, 200));
        painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                         tr("Open a study (File > Open Folder), or drop a series here"));
        return;
    }
    if (!m_imageValid) {
        render();
    }
    if (m_hasImage) {
        painter.save();
        const auto a = m_transform.qtAffine();
        painter.setTransform(QTransform(a[0], a[1], a[2], a[3], a[4], a[5]));
        // Smooth when shrinking; crisp pixels when magnifying (readers want to see pixels).
        painter.setRenderHint(
            QPainter::SmoothPixmapTransform,
            m_transform.scale() * std::min(m_mapping.spacingX, m_mapping.spacingY) < 1.0);
        painter.drawImage(QPointF(0, 0), m_image);
        painter.restore();
    }
    if (!isSliceReady(m_slice)) {
        const std::size_t k = std::size_t(std::lround(m_mapping.toIndex(0, 0, double(m_slice))[2]));
        const QString failure =
            m_mapping.axis[2] == 2 && k < m_failed.size() ? m_failed[k] : QString();
        drawText(painter, QRectF(rect()).adjusted(20, 0, -20, 0),
                 Qt::AlignCenter | Qt::TextWordWrap,
                 failure.isEmpty()
                     ? tr("Loading slice %1...").arg(m_slice + 1)
                     : tr("Slice %1 could not be decoded:\n%2").arg(m_slice + 1).arg(failure));
    }
    drawSaliency(painter);
    drawMeasurements(painter);
    drawCrosshair(painter);
    if (m_overlays) {
        drawOverlays(painter);
        drawScaleBar(painter);
    }
    if (saliencyShown()) {
        drawSaliencyLegend(painter);
    }
    painter.end();
    Q_EMIT painted();
}

// ---- saliency overlay --------------------------------------------------------------------------

QRgb Viewport::saliencyColour(SaliencyColours colours, double v) {
    v = std::clamp(v, 0.0, 1.0);
    const auto byte = [](double x) {
        return int(std::lround(255.0 * std::clamp(x, 0.0, 1.0)));
    };
    switch (colours) {
    case SaliencyColours::Hot:
        return qRgb(byte(3.0 * v), byte(3.0 * v - 1.0), byte(3.0 * v - 2.0));
    case SaliencyColours::Viridis: {
        // Piecewise-linear through viridis at 0, 0.25, 0.5, 0.75, 1.
        static const double stops[5][3] = {{0.267, 0.005, 0.329},
                                           {0.229, 0.322, 0.546},
                                           {0.128, 0.567, 0.551},
                                           {0.369, 0.789, 0.383},
                                           {0.993, 0.906, 0.144}};
        const double x = v * 4.0;
        const int i = std::min(3, int(x));
        const double t = x - i;
        return qRgb(byte(stops[i][0] + t * (stops[i + 1][0] - stops[i][0])),
                    byte(stops[i][1] + t * (stops[i + 1][1] - stops[i][1])),
                    byte(stops[i][2] + t * (stops[i + 1][2] - stops[i][2])));
    }
    case SaliencyColours::Jet:
    default:
        return qRgb(byte(1.5 - std::abs(4.0 * v - 3.0)), byte(1.5 - std::abs(4.0 * v - 2.0)),
                    byte(1.5 - std::abs(4.0 * v - 1.0)));
    }
}

void Viewport::setSaliency(std::shared_ptr<const SaliencyOverlay> overlay) {
    m_saliency = std::move(overlay);
    m_saliencyImage = QImage();
    update();
}

void Viewport::setSaliencyVisible(bool visible) {
    m_saliencyVisible = visible;
    update();
}

void Viewport::setSaliencyStyle(SaliencyColours colours, double opacity, double threshold) {
    m_saliencyColours = colours;
    m_saliencyOpacity = std::clamp(opacity, 0.0, 1.0);
    m_saliencyThreshold = std::clamp(threshold, 0.0, 1.0);
    m_saliencyImage = QImage();
    update();
}

bool Viewport::saliencyShown() const {
    return m_saliency && m_saliencyVisible && m_volume && m_mapping.kind == PlaneKind::Native &&
           m_slice == m_saliency->slice && isSliceReady(m_slice) &&
           m_saliency->width == int(m_mapping.width) && m_saliency->height == int(m_mapping.height);
}

void Viewport::prepareSaliencyImage() {
    if (!m_saliencyImage.isNull() || !m_saliency) {
        return;
    }
    // One colour per map value: a table of 256, then one lookup per pixel.
    QRgb table[256];
    const int alpha = int(std::lround(255.0 * m_saliencyOpacity));
    for (int i = 0; i < 256; ++i) {
        const double v = i / 255.0;
        const QRgb c = saliencyColour(m_saliencyColours, v);
        table[i] = v + 1e-9 < m_saliencyThreshold || alpha == 0
                       ? 0
                       : qPremultiply(qRgba(qRed(c), qGreen(c), qBlue(c), alpha));
    }
    m_saliencyImage =
        QImage(m_saliency->width, m_saliency->height, QImage::Format_ARGB32_Premultiplied);
    for (int y = 0; y < m_saliency->height; ++y) {
        auto* line = reinterpret_cast<QRgb*>(m_saliencyImage.scanLine(y));
        const float* values =
            m_saliency->values.data() + std::size_t(y) * std::size_t(m_saliency->width);
        for (int x = 0; x < m_saliency->width; ++x) {
            line[x] = table[std::clamp(int(values[x] * 255.0f + 0.5f), 0, 255)];
        }
    }
}

RenderedSlice Viewport::saliencyCapture() {
    RenderedSlice out;
    if (!saliencyShown() || m_image.isNull()) {
        return out;
    }
    prepareSaliencyImage();
    QImage picture = m_image.convertToFormat(QImage::Format_RGB32);
    {
        QPainter painter(&picture);
        painter.drawImage(QPointF(0, 0), m_saliencyImage);
    }
    picture = picture.convertToFormat(QImage::Format_RGB888);
    out.width = picture.width();
    out.height = picture.height();
    out.channels = 3;
    out.pixels.resize(std::size_t(out.width) * std::size_t(out.height) * 3);
    for (int y = 0; y < out.height; ++y) {
        std::memcpy(out.pixels.data() + std::size_t(y) * std::size_t(out.width) * 3,
                    picture.constScanLine(y), std::size_t(out.width) * 3);
    }
    return out;
}

void Viewport::drawSaliency(QPainter& painter) {
    if (!saliencyShown()) {
        return;
    }
    prepareSaliencyImage();
    painter.save();
    const auto a = m_transform.qtAffine();
    painter.setTransform(QTransform(a[0], a[1], a[2], a[3], a[4], a[5]));
    painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
    painter.drawImage(QPointF(0, 0), m_saliencyImage);
    painter.restore();
}

void Viewport::drawSaliencyLegend(QPainter& painter) {
    // A colour bar at the right edge, below the top corner texts: the scale from the threshold
    // (bottom) to the strongest evidence (top), what the map explains, and its faithfulness.
    const QFontMetrics metrics(font());
    const int barHeight = std::min(140, height() / 3);
    const int barWidth = 12;
    const int x = width() - 34 - barWidth;
    const int top = height() / 2 - barHeight / 2;
    for (int i = 0; i < barHeight; ++i) {
        const double v =
            m_saliencyThreshold + (1.0 - m_saliencyThreshold) * (1.0 - double(i) / (barHeight - 1));
        painter.fillRect(QRect(x, top + i, barWidth, 1),
                         QColor(saliencyColour(m_saliencyColours, v)));
    }
    painter.setPen(QColor(220, 220, 220));
    painter.drawRect(QRect(x, top, barWidth, barHeight));
    const int right = x - 4;
    const auto label = [&](int y, const QString& text) {
        const int w = metrics.horizontalAdvance(text);
        drawText(painter, QRectF(right - w, y - metrics.height() / 2.0, w, metrics.height()),
                 Qt::AlignRight | Qt::AlignVCenter, text);
    };
    label(top, tr("high"));
    label(top + barHeight, QString::number(m_saliencyThreshold, 'f', 2));
    const QString title = m_saliency->title;
    const int tw = metrics.horizontalAdvance(title);
    drawText(painter, QRectF(width() - 8 - tw, top - 6 - metrics.height(), tw, metrics.height()),
             Qt::AlignRight, title);
    if (!m_saliency->note.isEmpty()) {
        const int nw = metrics.horizontalAdvance(m_saliency->note);
        drawText(painter, QRectF(width() - 8 - nw, top + barHeight + 6, nw, metrics.height()),
                 Qt::AlignRight, m_saliency->note);
    }
}

void Viewport::drawOverlays(QPainter& painter) {
    const Volume& v = *m_volume;
    const QFontMetrics metrics(font());
    const int m = 6;
    const QRectF area = QRectF(rect()).adjusted(m, m, -m, -m);
    // Each corner keeps to its half of the width, minus room for the centred letters.
    const int half = width() / 2 - m - metrics.horizontalAdvance(QStringLiteral("WW")) / 2 - 4;
    // Top left: patient. Top right: study and series.
    QStringList patient;
    patient << personName(v.patientName);
    QString id = QString::fromStdString(v.patientId);
    if (!v.patientBirthDate.empty()) {
        id += tr("   born %1").arg(dicomDate(v.patientBirthDate));
    }
    if (!v.patientSex.empty()) {
        id += QStringLiteral("  ") + QString::fromStdString(v.patientSex);
    }
    patient << id;
    drawText(painter, area, Qt::AlignLeft | Qt::AlignTop, elidedLines(patient, metrics, half));
    QStringList study;
    study << QString::fromStdString(v.studyDescription) << dicomDate(v.studyDate)
          << tr("Se %1  %2  %3")
                 .arg(v.seriesNumber)
                 .arg(QString::fromStdString(v.modality))
                 .arg(QString::fromStdString(v.description));
    drawText(painter, area, Qt::AlignRight | Qt::AlignTop, elidedLines(study, metrics, half));
    // Bottom left: plane, slice and position. Bottom right: window and zoom.
    QString where = tr("%1  Im %2 / %3  %4 mm")
                        .arg(planeName(m_mapping.kind))
                        .arg(m_slice + 1)
                        .arg(sliceCount())
                        .arg(slicePosition(m_slice), 0, 'f', 2);
    where += tr("\n%1 x %2  %3 x %4 mm")
                 .arg(m_mapping.width)
                 .arg(m_mapping.height)
                 .arg(m_mapping.spacingX, 0, 'g', 4)
                 .arg(m_mapping.spacingY, 0, 'g', 4);
    drawText(painter, area, Qt::AlignLeft | Qt::AlignBottom,
             elidedLines(where.split(QLatin1Char('\n')), metrics, half));
    QString view;
    if (v.format().components == 1) {
        view = tr("W %1  L %2").arg(m_window.width, 0, 'f', 0).arg(m_window.center, 0, 'f', 0);
        const bool shownInverted = (v.photometric == Photometric::Monochrome1) != m_inverted;
        if (shownInverted) {
            view += tr("  inverted");
        }
        view += QLatin1Char('\n');
    }
    // Magnification as readers know it: screen pixels per image pixel (100% at 1:1, not at
    // fit).
    view += tr("Zoom %1%").arg(m_transform.zoom / m_transform.oneToOneZoom() * 100.0, 0, 'f', 0);
    drawText(painter, area, Qt::AlignRight | Qt::AlignBottom,
             elidedLines(view.split(QLatin1Char('\n')), metrics, half));

    // Orientation letters on the edges, from where screen right and down point in the patient.
    const Point2 centre{width() / 2.0, height() / 2.0};
    const Point2 a = m_transform.toImage(centre);
    const Point2 r = m_transform.toImage({centre.x + 1.0, centre.y});
    const Point2 d = m_transform.toImage({centre.x, centre.y + 1.0});
    const Vec3 dx = m_mapping.directionX(v) * m_mapping.spacingX;
    const Vec3 dy = m_mapping.directionY(v) * m_mapping.spacingY;
    const Vec3 right = dx * (r.x - a.x) + dy * (r.y - a.y);
    const Vec3 down = dx * (d.x - a.x) + dy * (d.y - a.y);
    if (v.geometry.hasPatientGeometry || v.direction.i != Vec3{1, 0, 0} ||
        v.direction.j != Vec3{0, 1, 0}) {
        const int h = metrics.height();
        drawText(painter, QRectF(width() - 44, height() / 2.0 - h, 40, 2 * h),
                 Qt::AlignRight | Qt::AlignVCenter, letters(right));
        drawText(painter, QRectF(4, height() / 2.0 - h, 40, 2 * h),
                 Qt::AlignLeft | Qt::AlignVCenter, letters(right * -1.0));
        drawText(painter, QRectF(width() / 2.0 - 30, 4, 60, h), Qt::AlignHCenter | Qt::AlignTop,
                 letters(down * -1.0));
        drawText(painter, QRectF(width() / 2.0 - 30, height() - 4 - h, 60, h),
                 Qt::AlignHCenter | Qt::AlignBottom, letters(down));
    }
}

void Viewport::drawScaleBar(QPainter& painter) {
    const double pxPerMm = m_transform.scale();
    if (pxPerMm <= 0 || (m_volume->pixelSpacingSource.rfind("none", 0) == 0)) {
        return;
    }
    // Lower right, above the window and zoom lines: clear of the letters and corner texts.
    const double mm = niceLength(width() * 0.2 / pxPerMm);
    const double length = mm * pxPerMm;
    const double y = height() - 12.0 - 2.0 * QFontMetrics(font()).height();
    const double x0 = width() - 10.0 - length;
    painter.save();
    painter.setPen(QPen(QColor(235, 235, 200), 2));
    painter.drawLine(QPointF(x0, y), QPointF(x0 + length, y));
    painter.drawLine(QPointF(x0, y - 5), QPointF(x0, y + 2));
    painter.drawLine(QPointF(x0 + length, y - 5), QPointF(x0 + length, y + 2));
    painter.restore();
    drawText(painter, QRectF(x0, y - 22, length, 16), Qt::AlignHCenter | Qt::AlignBottom,
             mm >= 10 ? tr("%1 cm").arg(mm / 10.0) : tr("%1 mm").arg(mm));
}

void Viewport::drawCrosshair(QPainter& painter) {
    if (!m_crosshairEnabled || !m_crosshair || !m_volume) {
        return;
    }
    const QPointF c = patientToWidget(*m_crosshair);
    painter.save();
    painter.setPen(QPen(QColor(80, 200, 255, 200), 1));
    // The lines run along the image's own axes, whatever the rotation.
    const auto at = m_mapping.fromPatient(*m_volume, *m_crosshair);
    const QPointF left = imageToWidget({-0.5, at[1]});
    const QPointF right = imageToWidget({double(m_mapping.width) - 0.5, at[1]});
    const QPointF top = imageToWidget({at[0], -0.5});
    const QPointF bottom = imageToWidget({at[0], double(m_mapping.height) - 0.5});
    painter.drawLine(left, right);
    painter.drawLine(top, bottom);
    painter.setBrush(Qt::NoBrush);
    painter.drawEllipse(c, 4, 4);
    painter.restore();
}

void Viewport::drawMeasurements(QPainter& painter) {
    if (!m_volume) {
        return;
    }
    painter.save();
    painter.setRenderHint(QPainter::Antialiasing, true);
    const auto drawOne = [&](const Measurement& m, bool selected, bool draft) {
        // Only measurements of this plane that lie on this slice.
        const auto plane = drawingPlane(*m_volume, m.axisU, m.axisV);
        if (!draft &&
            (!plane || plane->kind != m_mapping.kind ||
             std::abs(m_mapping.fromPatient(*m_volume, m.points.front())[2] - m_slice) > 0.5)) {
            return;
        }
        QPen pen(selected ? QColor(255, 210, 60) : QColor(60, 230, 120), selected ? 2.0 : 1.5);
        painter.setPen(pen);
        painter.setBrush(Qt::NoBrush);
        std::vector<QPointF> w;
        for (const Vec3& p : m.points) {
            w.push_back(patientToWidget(p));
        }
        QString text;
        if (m_measurements) {
            text = m_measurements->valueText(m);
        } else {
            text = QString::fromStdString(describe(m, measure(*m_volume, m), m_volume->units));
        }
        QPointF label = w.back() + QPointF(8, -8);
        if ((m.kind == MeasurementKind::Distance || m.kind == MeasurementKind::Angle) &&
            w.size() >= 2) {
            for (std::size_t i = 1; i < w.size(); ++i) {
                painter.drawLine(w[i - 1], w[i]);
            }
            for (const QPointF& p : w) {
                painter.drawEllipse(p, 2.5, 2.5);
            }
        } else if (w.size() >= 2) {
            const auto a = m_mapping.fromPatient(*m_volume, m.points[0]);
            const auto b = m_mapping.fromPatient(*m_volume, m.points[1]);
            // The shape is axis-aligned in the image; draw it through the view transform.
            QPainterPath path;
            const QRectF box(QPointF(std::min(a[0], b[0]), std::min(a[1], b[1])),
                             QPointF(std::max(a[0], b[0]), std::max(a[1], b[1])));
            if (m.kind == MeasurementKind::Ellipse) {
                path.addEllipse(box);
            } else {
                path.addRect(box);
            }
            const auto t = m_transform.toWidget({0, 0});
            const auto tx = m_transform.toWidget({1, 0});
            const auto ty = m_transform.toWidget({0, 1});
            const QTransform imageToScreen(tx.x - t.x, tx.y - t.y, ty.x - t.x, ty.y - t.y, t.x,
                                           t.y);
            painter.drawPath(imageToScreen.map(path));
            label = imageToScreen.map(QPointF(box.right(), box.top())) + QPointF(6, -6);
        }
        if (!text.isEmpty()) {
            painter.save();
            painter.setRenderHint(QPainter::Antialiasing, false);
            drawText(painter, QRectF(label, QSizeF(420, 40)), Qt::AlignLeft | Qt::AlignTop, text);
            painter.restore();
        }
    };
    if (m_measurements) {
        for (const Measurement& m : m_measurements->measurements()) {
            drawOne(m, m.id == m_selected, false);
        }
    }
    if (!m_draft.empty()) {
        // The shape being drawn, with the point under the mouse as its next point.
        std::vector<QPointF> points = m_draft;
        if (points.size() < (m_tool == Tool::Angle ? 3u : 2u)) {
            points.push_back(m_hover);
        }
        drawOne(measurementFrom(points), true, true);
    }
    painter.restore();
}

// ---- input --------------------------------------------------------------------------------------

void Viewport::wheelEvent(QWheelEvent* event) {
    const int steps = event->angleDelta().y() / 120;
    if (steps == 0) {
        return;
    }
    if (event->modifiers() & Qt::ControlModifier) {
        m_transform.zoomAt(std::pow(1.2, steps), {event->position().x(), event->position().y()});
        update();
        Q_EMIT viewChanged();
    } else {
        setCurrentSlice(m_slice - steps);
    }
    event->accept();
}

void Viewport::keyPressEvent(QKeyEvent* event) {
    const int key = event->key();
    if (key >= Qt::Key_1 && key <= Qt::Key_9 && event->modifiers() == Qt::NoModifier) {
        applyPreset(key - Qt::Key_1);
        return;
    }
    switch (key) {
    case Qt::Key_0:
        resetWindow();
        break;
    case Qt::Key_Up:
    case Qt::Key_Right:
        setCurrentSlice(m_slice + 1);
        break;
    case Qt::Key_Down:
    case Qt::Key_Left:
        setCurrentSlice(m_slice - 1);
        break;
    case Qt::Key_PageUp:
        setCurrentSlice(m_slice + std::max(1, sliceCount() / 10));
        break;
    case Qt::Key_PageDown:
        setCurrentSlice(m_slice - std::max(1, sliceCount() / 10));
        break;
    case Qt::Key_Home:
        setCurrentSlice(0);
        break;
    case Qt::Key_End:
        setCurrentSlice(sliceCount() - 1);
        break;
    case Qt::Key_S:
        if (!m_saliency) {
            QWidget::keyPressEvent(event);
            return;
        }
        setSaliencyVisible(!m_saliencyVisible);
        Q_EMIT saliencyVisibilityChanged(m_saliencyVisible);
        break;
    case Qt::Key_Escape:
        m_draft.clear();
        update();
        break;
    default:
        QWidget::keyPressEvent(event);
        return;
    }
    event->accept();
}

void Viewport::mousePressEvent(QMouseEvent* event) {
    Q_EMIT activated();
    setFocus(Qt::MouseFocusReason);
    if (!m_volume) {
        return;
    }
    m_dragStart = event->position();
    if (event->button() == Qt::RightButton) {
        m_drag = Drag::Window;
        m_dragWindow = m_window;
    } else if (event->button() == Qt::MiddleButton ||
               (event->button() == Qt::LeftButton && m_tool == Tool::Navigate &&
                (!m_crosshairEnabled || (event->modifiers() & Qt::ShiftModifier)))) {
        m_drag = Drag::Pan;
    } else if (event->button() == Qt::LeftButton && m_tool == Tool::Navigate &&
               m_crosshairEnabled) {
        m_drag = Drag::Crosshair;
        m_crosshair = widgetToPatient(event->position());
        update();
        Q_EMIT crosshairMoved(*m_crosshair);
    } else if (event->button() == Qt::LeftButton) {
        const QPointF image = widgetToImage(event->position());
        m_hover = image;
        if (m_tool == Tool::Angle) {
            m_draft.push_back(image); // three clicks: arm, vertex, arm
            if (m_draft.size() == 3) {
                finishDrawing();
            }
        } else {
            m_draft = {image};
            m_drag = Drag::Draw;
        }
        update();
    }
    event->accept();
}

void Viewport::mouseMoveEvent(QMouseEvent* event) {
    const QPointF d = event->position() - m_dragStart;
    switch (m_drag) {
    case Drag::Window: {
        DisplayWindow w = m_dragWindow;
        w.width = std::max(1.0, m_dragWindow.width + d.x() * kWindowPerPixel);
        w.center = m_dragWindow.center + d.y() * kWindowPerPixel;
        setWindow(w);
        break;
    }
    case Drag::Pan:
        m_transform.panX += d.x();
        m_transform.panY += d.y();
        m_dragStart = event->position();
        update();
        Q_EMIT viewChanged();
        break;
    case Drag::Crosshair:
        m_crosshair = widgetToPatient(event->position());
        update();
        Q_EMIT crosshairMoved(*m_crosshair);
        break;
    case Drag::Draw:
    case Drag::None:
        if (!m_draft.empty()) {
            m_hover = widgetToImage(event->position());
            update();
        }
        break;
    }
    Q_EMIT cursorReadout(readout(event->position()));
}

void Viewport::mouseReleaseEvent(QMouseEvent* event) {
    if (m_drag == Drag::Draw && event->button() == Qt::LeftButton) {
        m_draft.push_back(widgetToImage(event->position()));
        finishDrawing();
    }
    m_drag = Drag::None;
    event->accept();
}

void Viewport::leaveEvent(QEvent* event) {
    QWidget::leaveEvent(event);
    Q_EMIT cursorReadout(QString());
}

} // namespace radiolens
